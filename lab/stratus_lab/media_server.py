# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's deploy-media server: the files of one directory over plain HTTP, for the BMCs to download.

    media_server.py --bind ADDR --port N --directory DIR

The lab (stratus_lab.baremetal) runs it in the BMC namespace on the BMC's own address: sushy-tools'
InsertMedia downloads the URL of a bare-metal deploy medium (module_utils/baremetal/deploy_medium.py)
from here. Deliberately small, and stricter than `python -m http.server`: GET and HEAD of a regular
file directly in DIR whose name starts with a letter or digit (so never a medium's temporary
`.<name>.tmp` file, never a path outside DIR); no directory listing; a symlink is not followed.
Each request is one line on stderr (the lab sends it to <state>/bmc/logs/media-server.log).
"""
from __future__ import annotations

import argparse
import http.server
import os
import re
import shutil
import socketserver
import stat
import sys
from pathlib import Path

NAME = re.compile(r"/([A-Za-z0-9][A-Za-z0-9._-]{0,254})")


class MediaHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD /<name> of the server's directory; anything else is 404 (or 501 for other methods)."""

    server_version = "stratus-lab-media/1"
    directory: Path = Path(".")

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self.serve(body=True)

    def do_HEAD(self) -> None:  # pylint: disable=invalid-name
        self.serve(body=False)

    def serve(self, body: bool) -> None:
        match = NAME.fullmatch(self.path)
        fd = -1
        if match:
            try:
                fd = os.open(self.directory / match.group(1), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                fd = -1
        if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            if fd >= 0:
                os.close(fd)
            self.send_error(404)
            return
        with os.fdopen(fd, "rb") as medium:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(os.fstat(medium.fileno()).st_size))
            self.end_headers()
            if body:
                shutil.copyfileobj(medium, self.wfile, 1 << 20)


class MediaServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bind", required=True, help="the address to listen on (the lab's BMC address)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True, type=Path)
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a directory")
    handler = type("Handler", (MediaHandler,), {"directory": args.directory.resolve()})
    with MediaServer((args.bind, args.port), handler) as server:
        print(f"serving {args.directory} on http://{args.bind}:{args.port}", file=sys.stderr, flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
