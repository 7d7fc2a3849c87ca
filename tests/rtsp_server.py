"""A real RTSP server for the tests: GStreamer's gst-rtsp-server (Debian's
gir1.2-gst-rtsp-server-1.0, python3-gi) serving an H.264 MP4 file without re-encoding.

Run by the system Python (python3-gi lives there): ``/usr/bin/python3 tests/rtsp_server.py
--port P --path /clip FILE``; prints ``ready`` once it listens. Every client gets the clip from
its start, at its own frame rate (the server's pipeline syncs to the clock).
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402  (after require_version)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/clip")
    args = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.file.replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # lets Python handle the signal while the loop runs
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
