"""``python -m isegan.service.healthcheck``: exit 0 when the local service is ready.

For container HEALTHCHECKs: the image needs no curl, and the port comes from the same
``ISEGAN_PORT`` setting the service reads.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("ISEGAN_PORT", "8000")
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        with urllib.request.urlopen(
            url, timeout=float(os.environ.get("ISEGAN_HEALTH_TIMEOUT_S", "4"))
        ) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        sys.stderr.write(f"not ready: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
