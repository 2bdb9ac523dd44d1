#!/usr/bin/python3
"""Checks of the pictures gpumem draws, with the Python standard library only.

  check_pictures.py CASE PLOT_SYNTH          (synthetic series, tests/pictures/synth.h)
  check_pictures.py svg FILE.svg [pixels]    (any plot: XML, self-contained, renders)
  check_pictures.py trace FILE.json          (any trace: strict JSON, the format's fields)

An SVG must be well-formed XML (xml.etree), self-contained (no script, no
reference to anything outside it), and rsvg-convert (librsvg, a real
renderer) must draw it to a PNG, decoded here with zlib: the curve's colour
must be where the series puts it and nowhere it does not. A trace must load
in a strict JSON parser (no duplicate key, no NaN or Infinity) and have what
the Chrome Trace Event Format asks of each event.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
BLUE = (0x1F, 0x77, 0xB4)  # the first series' colour (tools/plot.c palette)
AMBER = (0xE6, 0xA1, 0x00)  # the 80 % line
RED = (0xD6, 0x27, 0x28)  # the 90 % line, OOM marks


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


# ---- SVG ------------------------------------------------------------------


def check_svg(path):
    """Well-formed and self-contained; returns the root element."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path} is not well-formed XML: {e}")
    if root.tag != SVG + "svg":
        fail(f"root is {root.tag}")
    for el in root.iter():
        tag = el.tag.replace(SVG, "")
        if tag in ("script", "image", "foreignObject", "use", "a", "style"):
            fail(f"<{tag}> in a self-contained plot")
        for k, v in el.attrib.items():
            if "href" in k or k.startswith("on") or "url(" in v:
                fail(f"external or active attribute {k}={v!r}")
    text = open(path, "rb").read()
    if b"@font-face" in text or b"@import" in text:
        fail("a font or stylesheet reference")
    return root


def render(svg, png):
    r = subprocess.run(["rsvg-convert", "-f", "png", "-o", png, svg], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"rsvg-convert: {r.stderr}")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        fail(f"PNG kind not handled: depth {depth} colour {colour} interlace {interlace}")
    bpp = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev, at = [], bytearray(stride), 0
    for _ in range(height):
        f, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 0xFF
        rows.append([tuple(line[x * bpp : x * bpp + 3]) if bpp == 3 or line[x * bpp + 3] > 128 else (255, 255, 255)
                     for x in range(width)])
        prev = line
    return width, height, rows


def near(p, colour, tol=60):
    return sum(abs(a - b) for a, b in zip(p, colour)) <= tol


def count(rows, colour, x0, x1, y0, y1):
    return sum(1 for y in range(max(y0, 0), min(y1, len(rows))) for x in range(max(x0, 0), min(x1, len(rows[0])))
               if near(rows[y][x], colour))


def frames(root):
    """The plotting areas: (x, y, width, height) of each panel's frame."""
    return [tuple(int(r.get(k)) for k in ("x", "y", "width", "height")) for r in root.iter(SVG + "rect")
            if r.get("fill") == "none"]


def rendered(svg):
    with tempfile.TemporaryDirectory() as d:
        png = os.path.join(d, "plot.png")
        render(svg, png)
        return decode_png(png)


# ---- trace ----------------------------------------------------------------


def strict_load(path):
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            fail(f"duplicate key in {keys}")
        return dict(pairs)

    def no_constant(name):
        fail(f"{name} is not JSON")

    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8", "strict"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constant)


def check_trace(path):
    d = strict_load(path)
    if not isinstance(d, dict) or not isinstance(d.get("traceEvents"), list):
        fail("not the JSON object form with traceEvents")
    if d.get("displayTimeUnit") not in ("ms", "ns"):
        fail(f"displayTimeUnit {d.get('displayTimeUnit')!r}")
    last = {}
    for ev in d["traceEvents"]:
        for k in ("ph", "name", "pid", "tid", "ts"):
            if k not in ev:
                fail(f"event without {k}: {ev}")
        if not isinstance(ev["ts"], (int, float)) or isinstance(ev["ts"], bool) or ev["ts"] < 0:
            fail(f"ts not a number: {ev}")
        if not isinstance(ev["pid"], int) or not isinstance(ev["tid"], int):
            fail(f"pid/tid not integers: {ev}")
        ph = ev["ph"]
        if ph not in ("M", "C", "i"):
            fail(f"unexpected ph {ph}")
        if ph == "M":
            if ev["name"] not in ("process_name", "thread_name") or not isinstance(ev["args"]["name"], str):
                fail(f"metadata event {ev}")
        if ph == "C":
            args = ev.get("args")
            if not args or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args.values()):
                fail(f"counter without numeric args: {ev}")
            key = (ev["pid"], ev["name"])
            if last.get(key) == args:
                fail(f"a counter point where the value did not change: {ev}")
            last[key] = args
        if ph == "i" and ev.get("s") not in ("g", "p", "t"):
            fail(f"instant event without scope: {ev}")
    return d


# ---- the cases --------------------------------------------------------------


def synth(tool, kind, case, out):
    r = subprocess.run([tool, kind, case, out], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"plot_synth {kind} {case}: {r.returncode} {r.stderr}")


def case_plot_svg_renders(tool, d):
    svg = os.path.join(d, "shape.svg")
    synth(tool, "svg", "shape", svg)
    root = check_svg(svg)
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    if not any("pid 4242 train<b>&\"'q" in t for t in texts):
        fail(f"the label did not survive escaping: {texts[:6]}")
    for want in ("90%", "80%", "total 16.0GB", "OOM", "20:00:00", "20:30:00", "time (UTC)"):
        if not any(want in t for t in texts):
            fail(f"no text {want!r} in {texts}")
    if not any(t.endswith("GB") and t[0].isdigit() for t in texts):
        fail("no GB axis labels")
    (fx, fy, fw, fh), = frames(root)
    width, height, rows = rendered(svg)
    if count(rows, (255, 255, 255), 0, width, 0, height) == width * height:
        fail("blank picture")
    # The axis: 0 at the bottom of the frame, the ticks' top value: read it from the grid.
    labels = [float(t[:-2]) for t in texts if t.endswith("GB") and t[0].isdigit()]
    top_gb = max(labels)

    def y_of(gb):
        return round(fy + fh - gb * fh / top_gb)

    mid = fx + fw // 2
    # The second half: 14 GiB, curve pixels there.
    right = count(rows, BLUE, mid + 10, fx + fw - 2, y_of(14) - 2, y_of(14) + 3)
    if right < 100:
        fail(f"the curve is not at 14 GB in the right half ({right} pixels)")
    # The first half is at 1 GiB: no curve pixels above 3 GB there, except
    # the one-second spike a quarter of the way, which the highest of its
    # bucket must show up to 15 GiB.
    spike_x = fx + fw // 4
    upper_left = count(rows, BLUE, fx + 2, spike_x - 4, fy, y_of(3)) + \
        count(rows, BLUE, spike_x + 5, mid - 4, fy, y_of(3))
    if upper_left:
        fail(f"curve pixels in the upper left, where the series is low ({upper_left})")
    if count(rows, BLUE, fx + 2, mid - 4, y_of(1) - 2, y_of(1) + 3) < 100:
        fail("the curve is not at 1 GB in the left half")
    spike = count(rows, BLUE, spike_x - 3, spike_x + 4, y_of(14.5), y_of(2))
    if spike < 20:
        fail(f"the spike of one bucket does not show ({spike} pixels)")
    # The 80 % and 90 % levels are lines across.
    if count(rows, AMBER, fx, fx + fw, y_of(12.8) - 1, y_of(12.8) + 2) < fw // 3:
        fail("no 80% line at 12.8 GB")
    if count(rows, RED, fx, mid - 4, y_of(14.4) - 1, y_of(14.4) + 2) < fw // 6:
        fail("no 90% line at 14.4 GB")
    size = os.path.getsize(svg)
    if size > 20000:
        fail(f"an hour of one step is {size} bytes: not simplified")


def case_plot_svg_runs_overlaid(tool, d):
    svg = os.path.join(d, "runs.svg")
    synth(tool, "svg", "runs", svg)
    root = check_svg(svg)
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    for k, peak in ((16, "4.0GB"), (32, "8.0GB"), (64, "12.0GB")):
        if not any(f"--batch {k}" in t and f"peak {peak}" in t for t in texts):
            fail(f"no legend entry for batch {k} with peak {peak}: {texts[:8]}")
    if not any("since each run's start" in t for t in texts):
        fail("runs at different times are not drawn from their own starts")
    panels = frames(root)
    if len(panels) != 2:
        fail(f"{len(panels)} panels for two devices")
    colours = {p.get("stroke") for p in root.iter(SVG + "path") if p.get("fill") == "none"}
    colours.discard(RED)
    if len(colours) < 3:
        fail(f"the runs share colours: {colours}")
    width, height, rows = rendered(svg)
    fx, fy, fw, fh = panels[0]
    # Each run's colour is drawn inside the first panel.
    for c in sorted(colours):
        rgb = tuple(int(c[i : i + 2], 16) for i in (1, 3, 5))
        if count(rows, rgb, fx, fx + fw, fy, fy + fh) < 30:
            fail(f"run colour {c} not drawn")


def case_trace_json_strict(tool, d):
    out = os.path.join(d, "shape.json")
    synth(tool, "trace", "shape", out)
    t = check_trace(out)
    ev = t["traceEvents"]
    names = [e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"]
    if names != ["pid 4242 train<b>&\"'q"]:
        fail(f"process name {names}")
    counters = [e for e in ev if e["ph"] == "C"]
    values = [e["args"]["bytes"] for e in counters]
    # 1 GiB, the spike, back to 1 GiB, 14 GiB: a point per change, of 3600 buckets.
    g = 1 << 30
    if values != [g, 15 * g, g, 14 * g]:
        fail(f"counter points {values}: one per change expected")
    if counters[1]["ts"] != 1795723200000000 + 900 * 1000000:
        fail(f"ts not in microseconds: {counters[1]['ts']}")
    inst = [(e["name"], e["s"]) for e in ev if e["ph"] == "i"]
    want = [("alloc 13.00 GiB", "t"), ("free 1.00 GiB", "t"), ("alloc failed 4.00 GiB", "t"),
            ("cuda:0 healthy -> warning", "p"), ("OOM cuda:0", "p")]
    if inst != want:
        fail(f"instant events {inst}")


def main():
    case, arg = sys.argv[1], sys.argv[2]
    if case == "svg":
        root = check_svg(arg)
        if len(sys.argv) > 3:
            width, height, rows = rendered(arg)
            for (fx, fy, fw, fh) in frames(root):
                drawn = sum(count(rows, tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)), fx, fx + fw, fy, fy + fh)
                            for c in ("#1f77b4", "#2ca02c", "#9467bd"))
                if drawn < 20:
                    fail(f"no curve drawn in the panel at y {fy}")
        print("ok", arg)
        return
    if case == "trace":
        check_trace(arg)
        print("ok", arg)
        return
    with tempfile.TemporaryDirectory() as d:
        globals()["case_" + case](arg, d)
    print("ok", case)


if __name__ == "__main__":
    main()
