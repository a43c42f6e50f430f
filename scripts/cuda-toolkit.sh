#!/usr/bin/env bash
# Sourced by the CUDA scripts: fetches the pieces of a CUDA toolkit that a
# build of the `cuda` feature needs, from PyPI, into one folder, once.
#
#   cuda_toolkit VERSION DIR [--libraries]
#
# VERSION is a toolkit release such as 13.4 or 13.0 (the newest patch of its
# wheels is taken). Without --libraries: the compiler (nvcc, nvvm, the C++
# runtime headers), enough to compile candle's kernels to PTX. With
# --libraries: also the libraries a binary links against (cudart, nvrtc,
# cuBLAS, cuRAND) and a stand-in for the driver's libcuda.so, generated from
# the driver functions cudarc declares, whose only use is to satisfy the
# linker: at run time the GPU machine's own libcuda.so.1 is loaded. Prints
# the toolkit's root (CUDA_HOME).
cuda_toolkit() {
    local version=$1 dir=$2 libraries=${3:-}
    local home=$dir/nvidia/cu${version%%.*}
    local wanted=(nvidia-cuda-nvcc nvidia-nvvm nvidia-cuda-runtime nvidia-cuda-crt)
    [ "$libraries" = --libraries ] && wanted+=(nvidia-cuda-nvrtc nvidia-cublas)
    if [ ! -x "$home/bin/nvcc" ] || { [ "$libraries" = --libraries ] && [ ! -e "$home/lib/libcuda.so" ]; }; then
        local wheels
        wheels=$(mktemp -d)
        local specs=()
        for name in "${wanted[@]}"; do specs+=("$name==$version.*"); done
        # The headers (CCCL) skip some toolkit releases: the newest not newer
        # than this one. cuRAND has its own version numbers: the newest.
        specs+=("nvidia-cuda-cccl<${version%%.*}.$((${version#*.} + 1))")
        [ "$libraries" = --libraries ] && specs+=("nvidia-curand")
        python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$wheels" "${specs[@]}" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        for wheel in "$wheels"/*.whl; do
            python3 -m zipfile -e "$wheel" "$dir"
        done
        rm -rf "$wheels"
        chmod +x "$home"/bin/* "$home"/nvvm/bin/*
        if [ "$libraries" = --libraries ]; then
            local cudarc
            cudarc=$(cargo metadata --format-version 1 --locked --features cuda \
                | python3 -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')
            grep -oP '^pub unsafe fn \Kcu\w+' "$(dirname "$cudarc")/src/driver/sys/mod.rs" | sort -u \
                | awk '{ print "int " $1 "(void) { return 999; }" }' > "$dir/libcuda-stand-in.c"
            if [ ! -s "$dir/libcuda-stand-in.c" ]; then
                echo "cuda-toolkit: no driver functions found in cudarc's sources" >&2
                return 1
            fi
            cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$home/lib/libcuda.so" "$dir/libcuda-stand-in.c"
            (
                cd "$home/lib"
                for lib in libcudart libnvrtc libcublas libcublasLt libcurand; do
                    local versioned
                    versioned=$(ls "$lib".so.* | head -1)
                    ln -sf "$versioned" "$lib.so"
                done
            )
        fi
    fi
    echo "$home"
}
