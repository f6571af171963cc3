// The examiner page: uploads a sketch to POST /synthesize and shows what comes back.
// Plain script, no build step and no external assets, so it works in an air-gapped lab.
"use strict";

(() => {
  const KEY_STORAGE = "isegan.apiKey";
  const OUTPUTS = "photo,parsing,stage1_photo,sketch_parsing";
  const FILE_NAMES = {
    photo: "photo",
    stage1_photo: "stage1-photo",
    parsing: "parsing-intermediate",
    sketch_parsing: "parsing-sketch",
    photo_on_input: "photo-on-input",
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    sketch: null, // the File being worked on
    sketchUrl: null,
    result: null, // the last SynthesisResponse
    blobs: {}, // output name -> Blob
    urls: [], // object URLs to revoke on the next result
    apiKey: readStoredKey(),
  };

  // ---- API key: kept in sessionStorage (this tab only), never in the page itself ----

  function readStoredKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      return "";
    }
  }

  function storeKey(key) {
    state.apiKey = key;
    try {
      if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      // Storage refused (private mode): the key lives in memory until the page closes.
    }
    showKeyState();
  }

  function showKeyState() {
    $("key-state").textContent = state.apiKey
      ? "A key is set for this browser tab."
      : "No key is set.";
  }

  function authHeaders() {
    return state.apiKey ? { Authorization: `Bearer ${state.apiKey}` } : {};
  }

  // ---- Talking to the service ----

  async function readBody(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (_) {
      return { detail: text.slice(0, 300) };
    }
  }

  async function checkService() {
    const status = $("service-status");
    let ready;
    try {
      ready = await fetch("/health/ready", { cache: "no-store" });
    } catch (error) {
      status.textContent = `The service cannot be reached (${error.message}).`;
      return;
    }
    if (ready.status === 503) {
      status.textContent = "The service is loading its model. This page will update when it is ready.";
      window.setTimeout(checkService, 2000);
      return;
    }
    const info = await fetch("/v1/model", { headers: authHeaders(), cache: "no-store" });
    if (info.status === 401) {
      status.textContent = "Ready. This service requires an API key: enter it under Access.";
      return;
    }
    if (!info.ok) {
      status.textContent = `Ready, but the model record could not be read (HTTP ${info.status}).`;
      return;
    }
    const model = await info.json();
    renderColourPickers(model.colour);
    const credentials = model.content_credentials;
    const signing = credentials.signing
      ? `outputs are signed with C2PA Content Credentials (${credentials.signer}, ` +
        `${credentials.key} key)`
      : "outputs are not signed (C2PA signing is turned off)";
    status.textContent =
      `Ready on ${model.device}. Model ${short(model.model_id)}, parser ${short(model.parser_id)}, ` +
      `code ${model.code_version}; ${signing}.`;
  }

  const CUSTODY_FIELDS = [
    ["case_id", "case-id-input"],
    ["evidence_id", "evidence-id-input"],
    ["examiner", "examiner-input"],
    ["note", "note-input"],
  ];

  const COLOUR_FIELDS = ["hair_colour", "skin_tone", "eye_colour"];
  const COLOUR_INPUTS = {
    hair_colour: ["hair-colour-input", "hair-colour-custom"],
    skin_tone: ["skin-tone-input", "skin-tone-custom"],
    eye_colour: ["eye-colour-input", "eye-colour-custom"],
  };

  /** Fill the colour pickers from the service's palettes (GET /v1/model). */
  function renderColourPickers(colour) {
    if (!colour) return;
    for (const field of COLOUR_FIELDS) {
      const [selectId, customId] = COLOUR_INPUTS[field];
      const select = $(selectId);
      select.length = 1;
      for (const [name, hex] of Object.entries(colour.palettes[field] || {})) {
        const option = new Option(name, name);
        option.style.background = `linear-gradient(to right, ${hex} 0 1.2em, transparent 1.2em)`;
        select.add(option);
      }
      select.add(new Option("Other colour…", "custom"));
      select.onchange = () => {
        $(customId).hidden = select.value !== "custom";
      };
    }
    $("variations-input").max = String(colour.max_variations);
    $("colour-fieldset").disabled = false;
  }

  function appendColourFields(body) {
    for (const field of COLOUR_FIELDS) {
      const [selectId, customId] = COLOUR_INPUTS[field];
      const value = $(selectId).value;
      if (value === "custom") body.append(field, $(customId).value);
      else if (value) body.append(field, value);
    }
    const variations = Number($("variations-input").value || 0);
    if (variations > 0) body.append("variations", String(variations));
  }

  /** What became of the hints, and the variations as a labelled grid. */
  function renderColour(result) {
    const colour = result.colour;
    const notes = $("colour-notes");
    const lines = [];
    if (colour) {
      for (const [region, hint] of Object.entries(colour.hints || {})) {
        lines.push(`${region}: ${hint.value} applied`);
      }
      for (const [region, reason] of Object.entries(colour.not_applied || {})) {
        lines.push(`${region}: not applied (${reason})`);
      }
    }
    notes.textContent = lines.join("; ");
    notes.hidden = lines.length === 0;
    const grid = $("variations-grid");
    grid.replaceChildren();
    const entries = Object.entries((colour && colour.variations) || {});
    for (const [name, variation] of entries) {
      const image = result.images[name];
      if (!image) continue;
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = image.url;
      img.width = image.width;
      img.height = image.height;
      img.alt = `Variation: ${variation.label}`;
      const caption = document.createElement("figcaption");
      caption.textContent = variation.label + " ";
      const download = document.createElement("a");
      download.className = "download";
      download.href = image.url;
      download.download = image.fileName;
      download.textContent = "Download";
      caption.append(download);
      figure.append(img, caption);
      grid.append(figure);
    }
    $("variations").hidden = entries.length === 0;
  }

  async function synthesize(parsingFile) {
    clearError();
    if (!state.sketch) {
      showError("No sketch chosen", "Choose or drop a sketch image first.");
      return;
    }
    const body = new FormData();
    body.append("sketch", state.sketch, state.sketch.name || "sketch");
    body.append("outputs", OUTPUTS);
    appendColourFields(body);
    for (const [field, id] of CUSTODY_FIELDS) {
      const value = $(id).value.trim();
      if (value) body.append(field, value);
    }
    if (parsingFile) {
      body.append("parsing", parsingFile, parsingFile.name || "parsing.png");
    } else {
      body.append("align", $("align-input").value);
    }
    setBusy(true, parsingFile ? "Running again with your parsing map…" : "Synthesising…");
    let response;
    let payload;
    try {
      response = await fetch("/synthesize", {
        method: "POST",
        body,
        headers: { Accept: "application/json", ...authHeaders() },
      });
      payload = await readBody(response);
    } catch (error) {
      setBusy(false, "");
      showError(
        "The service could not be reached",
        `The request did not complete (${error.message}). Check that the service is running.`,
      );
      return;
    }
    if (!response.ok) {
      setBusy(false, "");
      showProblem(response, payload);
      return;
    }
    await render(payload, parsingFile);
    setBusy(false, `Done in ${formatMs(payload.timings_ms.total)} ms.`);
  }

  // ---- Errors: problem+json turned into sentences ----

  function showProblem(response, problem) {
    const detail = problem.detail || "";
    const retry = response.headers.get("Retry-After");
    const messages = {
      400: ["The request could not be read", detail],
      401: [
        "An API key is needed",
        "This service only answers requests with a valid API key. Enter it under Access and try again.",
      ],
      406: ["The requested format is not available", detail],
      413: ["The file is too large", `${capitalise(readableBytes(detail))}. Choose a smaller image.`],
      415: [
        "This file is not an image the service can read",
        `${capitalise(detail)}. Upload the sketch as a PNG, JPEG, BMP, TIFF or WebP image.`,
      ],
      422: ["The service could not use this input", fieldErrors(problem) || capitalise(detail)],
      503: [
        "The service is busy or still starting",
        `${capitalise(detail)}. Try again in ${retry || "a few"} second${retry === "1" ? "" : "s"}.`,
      ],
      504: [
        "The synthesis took too long",
        `${capitalise(detail)}. The service is overloaded; try again shortly.`,
      ],
    };
    const [title, text] = messages[response.status] || [
      `Unexpected error (HTTP ${response.status})`,
      capitalise(detail) || "The service gave no explanation.",
    ];
    showError(title, text, problem.request_id || response.headers.get("X-Request-ID"));
    if (response.status === 401) $("api-key").focus();
  }

  function fieldErrors(problem) {
    if (!Array.isArray(problem.errors) || problem.errors.length === 0) return "";
    return problem.errors
      .map((error) => `${(error.loc || []).slice(1).join(".") || "request"}: ${error.msg}`)
      .join("; ");
  }

  function showError(title, text, requestId) {
    const box = $("error");
    box.replaceChildren();
    const heading = document.createElement("p");
    const strong = document.createElement("strong");
    strong.textContent = title;
    heading.append(strong);
    const body = document.createElement("p");
    body.textContent = text;
    box.append(heading, body);
    if (requestId) {
      const id = document.createElement("p");
      id.className = "request-id";
      id.textContent = `Request ID ${requestId}: quote it when reporting a problem.`;
      box.append(id);
    }
    box.hidden = false;
    box.focus();
  }

  function clearError() {
    $("error").hidden = true;
    $("error").replaceChildren();
  }

  // ---- Showing a result ----

  async function render(result, parsingFile) {
    state.urls.forEach((url) => URL.revokeObjectURL(url));
    state.urls = [];
    state.result = result;
    state.blobs = {};
    const stem = (state.sketch.name || "sketch").replace(/\.[^.]*$/, "") || "sketch";
    for (const [name, image] of Object.entries(result.images)) {
      const blob = new Blob([decodeBase64(image.data)], { type: image.media_type });
      state.blobs[name] = blob;
      image.url = objectUrl(blob);
      image.fileName = `${stem}.${FILE_NAMES[name] || name.replace("_", "-")}.${image.media_type.split("/")[1]}`;
    }
    const images = result.images;
    showImage("photo-image", images.photo);
    showImage("stage1-image", images.stage1_photo);
    link("photo-download", images.photo);
    link("stage1-download", images.stage1_photo);
    link("parsing-download", images.parsing);
    link("sketch-parsing-download", images.sketch_parsing);
    const record = new Blob([JSON.stringify(provenanceFile(result), null, 2)], {
      type: "application/json",
    });
    const provenanceLink = $("provenance-download");
    provenanceLink.href = objectUrl(record);
    provenanceLink.download = `${stem}.provenance.json`;

    $("overlay-base-select").querySelector('option[value="sketch"]').disabled = result.aligned;
    if (result.aligned && $("overlay-base-select").value === "sketch") {
      $("overlay-base-select").value = "photo";
    }
    updateOverlay();
    renderLegend(result.labels);
    renderColour(result);
    renderTimings(result.timings_ms);
    renderProvenance(result, parsingFile, null);
    $("rerun-button").disabled = result.aligned;
    $("results").hidden = false;
    $("results-heading").focus();
    const checks = await Promise.all([checkHashes(result), verifyCredentials(result)]);
    renderProvenance(result, parsingFile, { hashes: checks[0], credentials: checks[1] });
  }

  /** A blob: URL for this result, revoked when the next result replaces it. */
  function objectUrl(blob) {
    const url = URL.createObjectURL(blob);
    state.urls.push(url);
    return url;
  }

  function showImage(id, image) {
    const element = $(id);
    if (!image) {
      element.removeAttribute("src");
      return;
    }
    element.width = image.width;
    element.height = image.height;
    element.src = image.url;
  }

  function link(id, image) {
    const anchor = $(id);
    if (!image) {
      anchor.removeAttribute("href");
      return;
    }
    anchor.href = image.url;
    anchor.download = image.fileName;
  }

  function updateOverlay() {
    const result = state.result;
    if (!result) return;
    const base = $("overlay-base-select").value;
    const map = $("overlay-map-select").value;
    const baseImage = base === "sketch" ? { url: state.sketchUrl } : result.images[base];
    const mapImage = result.images[map];
    const baseElement = $("overlay-base");
    const mapElement = $("overlay-map");
    baseElement.src = baseImage.url;
    baseElement.width = mapImage.width;
    baseElement.height = mapImage.height;
    mapElement.src = mapImage.url;
    const baseName = $("overlay-base-select").selectedOptions[0].textContent;
    const mapName = $("overlay-map-select").selectedOptions[0].textContent;
    mapElement.alt = `${mapName} drawn over ${baseName}; the legend below names each colour.`;
    $("overlay-caption").textContent = `${mapName} over ${baseName}`;
    updateOpacity();
  }

  function updateOpacity() {
    const value = Number($("overlay-opacity").value);
    $("overlay-map").style.opacity = String(value / 100);
    $("overlay-opacity-value").textContent = `${value} %`;
  }

  function renderLegend(labels) {
    const list = $("legend");
    list.replaceChildren();
    for (const label of labels) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.backgroundColor = `rgb(${label.colour.join(",")})`;
      const name = document.createElement("span");
      name.textContent = `${label.index} ${label.name.replace(/_/g, " ")}`;
      item.append(swatch, name);
      list.append(item);
    }
  }

  function renderTimings(timings) {
    const body = $("timings").tBodies[0];
    body.replaceChildren();
    for (const [stage, ms] of Object.entries(timings)) {
      const row = body.insertRow();
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = stage;
      row.append(name);
      row.insertCell().textContent = formatMs(ms);
    }
  }

  function renderProvenance(result, parsingFile, checks) {
    const record = result.provenance;
    const rows = [
      ["Request ID", record.request_id],
      ["Created", record.created],
      ["Model ID", record.model_id],
      ["Parser ID", record.parser_id],
      ["Code version", record.code_version],
      ["Sketch SHA-256", record.input_sha256],
    ];
    if (record.parsing_input_sha256) {
      rows.push([`Corrected parsing SHA-256 (${parsingFile ? parsingFile.name : "upload"})`,
        record.parsing_input_sha256]);
    }
    for (const [name, digest] of Object.entries(record.outputs)) {
      rows.push([`${name} SHA-256`, digest]);
    }
    const custody = record.custody || {};
    for (const [field, label] of [["case_id", "Case ID"], ["evidence_id", "Evidence ID"],
      ["examiner", "Examiner"], ["note", "Note"]]) {
      if (custody[field]) rows.push([label, custody[field]]);
    }
    if (record.watermark) {
      rows.push(["Watermark", `installation ${record.watermark.installation}, ` +
        `record ${record.watermark.record}`]);
    }
    rows.push(["Aligned", result.aligned ? "yes" : "no"]);
    rows.push(["Batch size", String(result.batch_size)]);
    rows.push(["Source type", record.digital_source_type.split("/").pop()]);
    rows.push(["Hashes checked here", checks ? checks.hashes : "checking…"]);
    rows.push(["Content Credentials", checks ? checks.credentials.text : "checking…",
      checks ? checks.credentials.tone : ""]);
    const list = $("provenance");
    list.replaceChildren();
    for (const [term, value, tone] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      if (tone) dd.className = tone;
      list.append(dt, dd);
    }
  }

  async function checkHashes(result) {
    if (!window.crypto || !window.crypto.subtle) {
      return "not available here (the browser only hashes on https or localhost)";
    }
    const mismatched = [];
    for (const [name, digest] of Object.entries(result.provenance.outputs)) {
      const bytes = await state.blobs[name].arrayBuffer();
      const computed = toHex(await window.crypto.subtle.digest("SHA-256", bytes));
      if (computed !== digest) mismatched.push(name);
    }
    return mismatched.length === 0
      ? "every output matches its SHA-256 in the record"
      : `MISMATCH for ${mismatched.join(", ")}: do not rely on these files`;
  }

  async function verifyCredentials(result) {
    if (result.content_credentials !== "signed") {
      return { text: "unsigned: C2PA signing is turned off on this service", tone: "" };
    }
    const body = new FormData();
    body.append("image", state.blobs.photo, result.images.photo.fileName);
    try {
      const response = await fetch("/verify", { method: "POST", body, headers: authHeaders() });
      const verdict = await readBody(response);
      if (!response.ok) return { text: `could not be checked (HTTP ${response.status})`, tone: "verdict-bad" };
      const texts = {
        trusted: `photo signed and trusted (${verdict.signer})`,
        untrusted: `photo signed by ${verdict.signer}, but the signer is not trusted here`,
        // an installation key: trusted only by verifiers given the installation's root
        invalid: `INVALID: ${verdict.failures.join(", ")}`,
        "no-credentials": "the photo carries no Content Credentials",
      };
      return {
        text: texts[verdict.verdict] || verdict.verdict,
        tone: verdict.verdict === "trusted" ? "verdict-trusted" : "verdict-bad",
      };
    } catch (error) {
      return { text: `could not be checked (${error.message})`, tone: "verdict-bad" };
    }
  }

  function provenanceFile(result) {
    return {
      provenance: result.provenance,
      content_credentials: result.content_credentials,
      labels: result.labels,
      timings_ms: result.timings_ms,
      files: Object.fromEntries(
        Object.entries(result.images).map(([name, image]) => [
          name,
          { file: image.fileName, media_type: image.media_type, sha256: image.sha256,
            width: image.width, height: image.height },
        ]),
      ),
    };
  }

  // ---- Small helpers ----

  function setBusy(busy, message) {
    $("synthesize-button").disabled = busy;
    $("rerun-button").disabled = busy || Boolean(state.result && state.result.aligned);
    $("results").setAttribute("aria-busy", String(busy));
    $("progress").textContent = message;
  }

  function chooseSketch(file) {
    if (!file) return;
    if (state.sketchUrl) URL.revokeObjectURL(state.sketchUrl);
    state.sketch = file;
    state.sketchUrl = URL.createObjectURL(file);
    state.result = null;
    $("results").hidden = true;
    clearError();
    const preview = $("sketch-preview");
    preview.alt = `The chosen sketch, ${file.name}`;
    preview.hidden = false;
    preview.src = state.sketchUrl;
  }

  function decodeBase64(text) {
    const binary = window.atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function toHex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function short(digest) {
    return digest ? `${digest.slice(0, 12)}…` : "unknown";
  }

  function formatMs(ms) {
    return Number(ms).toFixed(ms < 10 ? 2 : 1);
  }

  function readableBytes(text) {
    // "the 20971520-byte limit" reads better as "the 20.0 MiB limit"
    return text.replace(/(\d+)-byte limit/, (_, bytes) => `${(Number(bytes) / 2 ** 20).toFixed(1)} MiB limit`);
  }

  function capitalise(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  // ---- Wiring ----

  function wire() {
    showKeyState();
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("api-key");
      storeKey(input.value.trim());
      input.value = "";
      checkService();
    });
    $("forget-key").addEventListener("click", () => {
      storeKey("");
      checkService();
    });

    $("sketch-input").addEventListener("change", (event) => chooseSketch(event.target.files[0]));
    $("sketch-preview").addEventListener("error", () => {
      $("sketch-preview").hidden = true; // not a picture the browser can show; the service decides
    });
    const zone = $("drop-zone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const files = event.dataTransfer && event.dataTransfer.files;
      if (!files || files.length === 0) return;
      $("sketch-input").files = files;
      chooseSketch(files[0]);
    });

    $("synthesize-form").addEventListener("submit", (event) => {
      event.preventDefault();
      synthesize(null);
    });
    $("rerun-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const file = $("parsing-input").files[0];
      if (!file) {
        showError("No parsing map chosen", "Choose the corrected parsing map (PNG) first.");
        return;
      }
      synthesize(file);
    });
    $("overlay-base-select").addEventListener("change", updateOverlay);
    $("overlay-map-select").addEventListener("change", updateOverlay);
    $("overlay-opacity").addEventListener("input", updateOpacity);
    checkService();
  }

  wire();
})();
