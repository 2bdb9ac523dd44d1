"""The ctypes mirrors of python/gpumem/_abi.py against include/gpumem.h.

Usage: check_abi.py ABI_LAYOUT SOURCE_DIR

ABI_LAYOUT is abi_layout.c compiled: the offset and size of every field as
the C compiler lays the structs out. The field names are also read from the
header itself, so that a field added to the header but to neither abi_layout.c
nor _abi.py is caught too. Prints one line per struct; exit status 1 on any
difference.
"""
import ctypes
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree

STRUCTS = {  # C typedef -> (struct tag in the header, ctypes class name)
    "gpumem_device_stats_t": ("gpumem_device_stats", "DeviceStats"),
    "gpumem_alarm_t": ("gpumem_alarm", "Alarm"),
}


def header_fields(text, tag, typedef):
    """The field names of `typedef struct TAG { ... } TYPEDEF;`, in order."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    m = re.search(r"typedef\s+struct\s+%s\s*\{(.*?)\}\s*%s\s*;" % (tag, typedef), text, re.S)
    if not m:
        raise SystemExit("FAIL: typedef struct %s { ... } %s; not found in gpumem.h" % (tag, typedef))
    names = []
    for decl in m.group(1).split(";"):
        decl = re.sub(r"\[[^]]*\]", "", decl).strip()
        if not decl:
            continue
        for i, part in enumerate(decl.split(",")):
            names.append(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", part)[-1])
    return names


def c_layout(program):
    """{typedef: {"sizeof": (size, align), "fields": [(name, offset, size)]}}"""
    out = subprocess.run([program], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    layout = {}
    for line in out.splitlines():
        struct, name, a, b = line.split()
        entry = layout.setdefault(struct, {"fields": []})
        if name == "sizeof":
            entry["sizeof"] = (int(a), int(b))
        else:
            entry["fields"].append((name, int(a), int(b)))
    return layout


def main():
    program, source = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(source, "python"))
    from gpumem import _abi

    with open(os.path.join(source, "include", "gpumem.h")) as f:
        header = f.read()
    layout = c_layout(program)
    failures = 0
    for typedef, (tag, cls_name) in STRUCTS.items():
        cls = getattr(_abi, cls_name)
        c = layout[typedef]
        problems = []
        declared = header_fields(header, tag, typedef)
        printed = [name for name, _, _ in c["fields"]]
        mirrored = [name for name, _ in cls._fields_]
        if printed != declared:
            problems.append("abi_layout.c prints %s, the header declares %s" % (printed, declared))
        if mirrored != declared:
            problems.append("_abi.%s has %s, the header declares %s" % (cls_name, mirrored, declared))
        for name, offset, size in c["fields"]:
            field = getattr(cls, name, None)
            if field is None:
                continue
            if (field.offset, field.size) != (offset, size):
                problems.append("%s: ctypes offset %d size %d, C offset %d size %d"
                                % (name, field.offset, field.size, offset, size))
        if (ctypes.sizeof(cls), ctypes.alignment(cls)) != c["sizeof"]:
            problems.append("ctypes sizeof %d align %d, C sizeof %d align %d"
                            % ((ctypes.sizeof(cls), ctypes.alignment(cls)) + c["sizeof"]))
        if problems:
            failures += 1
            print("FAIL %s (_abi.%s):" % (typedef, cls_name))
            for p in problems:
                print("  " + p)
        else:
            print("ok   %s (_abi.%s): %d fields, %d bytes" % (typedef, cls_name, len(declared), c["sizeof"][0]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
