"""``isegan synthesize --url``: the same outputs, made by a running service."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from isegan.cli.images import InputError, output_stems
from isegan.provenance.outputs import DEFAULT_OUTPUTS, EXTRA_OUTPUTS, Output, Variation
from isegan.service.client import AsyncIseganClient, ServiceError, SynthesisResult

MANIFEST = "provenance.json"


def _files_for(stem: str, result: SynthesisResult) -> dict[str, str]:
    """Output name -> file name of every output the service returned."""
    files = {
        str(output): output.file_name(stem)
        for output in Output
        if str(output) in result.response.images
    }
    for name in result.variations:
        files[name] = Variation(int(name.rsplit("_", 1)[1])).file_name(stem)
    return files


async def _send_all(args: argparse.Namespace, stems: list[str]) -> list[dict[str, Any]]:
    outputs = [str(o) for o in DEFAULT_OUTPUTS + (EXTRA_OUTPUTS if args.extras else ())]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    gate = asyncio.Semaphore(max(1, args.concurrency))
    entries: list[dict[str, Any]] = []
    progress = tqdm(total=len(stems), unit="sketch", disable=len(stems) < 2)

    async with AsyncIseganClient(args.url, api_key=args.api_key) as client:

        async def one(path: Path, stem: str) -> None:
            async with gate:
                try:
                    result = await client.synthesize(
                        path, outputs=outputs, align=args.align, **colour_arguments(args)
                    )
                except ServiceError as error:
                    entries.append({"sketch": str(path), "error": error.problem})
                    return
                finally:
                    progress.update(1)
            files = _files_for(stem, result)
            for output, name in files.items():
                (out / name).write_bytes(result.image(output))
            entries.append(
                {
                    "sketch": str(path),
                    "files": files,
                    "provenance": result.response.provenance.model_dump(mode="json"),
                }
            )

        await asyncio.gather(*(one(p, s) for p, s in zip(args.sketches, stems, strict=True)))
    progress.close()
    return sorted(entries, key=lambda entry: entry["sketch"])


def colour_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The colour options as the client's keyword arguments (checked by the service)."""
    return {
        "hair_colour": args.hair_colour,
        "skin_tone": args.skin_tone,
        "eye_colour": args.eye_colour,
        "variations": args.variations,
    }


def synthesize_remote(args: argparse.Namespace) -> int:
    missing = [str(path) for path in args.sketches if not path.is_file()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}")
    stems = output_stems(args.sketches)
    entries = asyncio.run(_send_all(args, stems))
    manifest = args.out / MANIFEST
    manifest.write_text(json.dumps({"service": args.url, "results": entries}, indent=2) + "\n")
    failed = [entry for entry in entries if "error" in entry]
    for entry in failed:
        print(f"{entry['sketch']}: {entry['error'].get('detail', entry['error'])}")
    print(f"wrote {len(entries) - len(failed)} photo(s) and {manifest} ({len(failed)} failed)")
    return 1 if failed else 0
