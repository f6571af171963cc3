#!/bin/sh
# Container entry point. No arguments: serve (settings from ISEGAN_* variables).
# An isegan subcommand runs it; "torchrun ..." runs multi-GPU training; anything else
# is executed as given (e.g. a shell for debugging).
set -eu

if [ "$#" -eq 0 ]; then
    set -- serve
fi

case "$1" in
    serve | train | train-parser | eval | synthesize | parse | audit | api-key)
        exec isegan "$@"
        ;;
    torchrun)
        shift
        # torchrun starts one process per GPU; each runs `isegan train` under DDP.
        exec torchrun "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
