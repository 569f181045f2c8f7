#!/bin/sh
# An example provider script carried on the context CD next to context.sh (the demo only carries it).
echo "init.sh ran on $(hostname)"
