#!/usr/bin/python3
"""A camera for the LiveThread tests and benchmark: GStreamer's RTSP server on 127.0.0.1.

  rtsp-server.py --port N [--auth basic|digest --user U --password P] MOUNT ...
  MOUNT is  /path=live-h264 | /path=live-h265 | /path=file:CLIP.mp4 | /path=file265:CLIP.mp4 ,
  optionally followed by ',shared' (one media for every client: a camera's behaviour).

Prints "READY <port>" on stdout when it listens; stops on SIGTERM or when stdin closes.
Exit code 3 with a reason on stderr when GStreamer's RTSP server is missing.
"""
import argparse
import signal
import sys

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except Exception as err:  # noqa: BLE001 - any import failure means "no server here"
    sys.stderr.write(f"gstreamer rtsp server unavailable: {err}\n")
    sys.exit(3)

LIVE = {
    "live-h264": "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 "
    "! video/x-h264,profile=constrained-baseline ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "live-h265": "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h265parse "
    "! rtph265pay name=pay0 pt=96 config-interval=-1",
    # An audio track beside the video: the client must ignore it.
    "live-h264-audio": "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 ! h264parse "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 "
    "audiotestsrc is-live=true ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0",
}


def launch_line(kind: str) -> str:
    if kind in LIVE:
        return f"( {LIVE[kind]} )"
    if kind.startswith("file:"):
        return f"( filesrc location={kind[5:]} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    if kind.startswith("file265:"):
        return f"( filesrc location={kind[8:]} ! qtdemux ! h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1 )"
    raise SystemExit(f"unknown mount kind {kind!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth", choices=["basic", "digest"])
    parser.add_argument("--user", default="user")
    parser.add_argument("--password", default="pass")
    parser.add_argument("mounts", nargs="+")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mounts:
        path, _, kind = spec.partition("=")
        shared = kind.endswith(",shared")
        kind = kind.removesuffix(",shared")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(kind))
        factory.set_shared(shared)
        if args.auth:
            role = Gst.Structure.from_string("user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0]
            factory.add_role_from_structure(role)
        mounts.add_factory(path, factory)

    if args.auth:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        if args.auth == "basic":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        else:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot listen on 127.0.0.1:{args.port}\n")
        sys.exit(2)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    # The parent closing our stdin (it died) stops us too: no orphaned servers.
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT, GLib.IO_HUP | GLib.IO_IN, lambda *_: loop.quit())
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
