"""python -m gpumem COMMAND [ARGS...]: the gpumem binary (ls, show, top, run,
...), executed in this process's place, so its exit status is the command's."""
import os
import sys

from . import BinaryNotFound, binary


def main(argv):
    try:
        path = binary()
    except BinaryNotFound as e:
        sys.stderr.write("python -m gpumem: %s\n" % e)
        return 127
    sys.stdout.flush()
    os.execv(path, ["gpumem"] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
