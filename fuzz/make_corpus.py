"""Writes the hand-made part of the fuzz corpus: one input per crash that
fuzzing found (`regress-*`, each a small file that reproduces it) and the
seeds no fixture provides (MP4 files, made with ffmpeg). Deterministic; run
from the repository root: python3 fuzz/make_corpus.py

The rest of the corpus (`found-*`) is what `examples/fuzz --keep-new` kept:
mutated inputs that reached outcomes the seeds did not."""

import io
import pathlib
import struct
import subprocess
import sys
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "fixtures"))
import make_pose  # noqa: E402

CORPUS = pathlib.Path("fuzz/corpus")


def gguf_string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def gguf_tensor(name: bytes, ne, type_id: int, offset: int) -> bytes:
    out = gguf_string(name) + struct.pack("<I", len(ne))
    out += b"".join(struct.pack("<Q", d) for d in ne)
    return out + struct.pack("<IQ", type_id, offset)


def gguf_duplicate_overflow() -> bytes:
    """Tensor `w` twice: first a plain F32 tensor the reader accepts, then a
    Q8_0 record of the same name whose dimensions multiply past u64."""
    head = b"GGUF" + struct.pack("<IQQ", 3, 2, 0)
    head += gguf_tensor(b"w", [32], 0, 0)
    head += gguf_tensor(b"w", [32, 1 << 32, 1 << 32], 8, 128)
    head += b"\0" * (-len(head) % 32)
    return head + b"\0" * 256


def pose_frame(draw_pose_params) -> bytes:
    """An EchoMimicV2 pose `.npy` like the fixtures', with these draw parameters."""
    frame = make_pose.frame_dict(0, np.random.default_rng(1))
    frame["draw_pose_params"] = draw_pose_params
    return make_pose.npy_bytes(frame, 3, True)


def pose_jump() -> bytes:
    """A frame whose right hand sits 0.3 away from where the clean sequence
    has it: set as the last frame, a jump with no frame after it."""
    frame = make_pose.frame_dict(23, np.random.default_rng(1))
    frame["hands"][1] += 0.3
    return make_pose.npy_bytes(frame, 3, True)


def pose_long_lines(groups: int) -> bytes:
    """Hands whose edges all cross the canvas corner to corner: drawing
    scanned each line's whole bounding box (seconds for 8 KiB)."""
    frame = make_pose.frame_dict(0, np.random.default_rng(1))
    hands = np.zeros((groups, 21, 2))
    hands[:, ::2] = 0.02
    hands[:, 1::2] = 0.98
    frame["hands"] = hands
    frame["hands_score"] = np.ones((groups, 21))
    return make_pose.npy_bytes(frame, 3, True)


def mp4(faststart: bool) -> bytes:
    """Four 32 × 32 H.264 frames, moov after (or before) the media data."""
    out = pathlib.Path("/tmp/nanscope-fuzz-seed.mp4")
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=8",
         "-frames:v", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *flags,
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", str(out)],
        check=True,
    )
    return out.read_bytes()


def mp4_sliced_av() -> bytes:
    """Three 32 × 32 H.264 frames of two CABAC slices each, with AAC audio
    interleaved and the moov last: parameter sets whose slice headers the
    rebuild reads in full."""
    out = pathlib.Path("/tmp/nanscope-fuzz-seed-av.mp4")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=32x32:rate=24:duration=0.125", "-f", "lavfi", "-i",
         "anoisesrc=d=0.125:c=pink:r=8000:a=0.3:seed=3", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", "-x264-params", "slices=2", "-c:a", "aac", "-b:a", "16k",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", str(out)],
        check=True,
    )
    return out.read_bytes()


def mp4_tagged(keyed: bool) -> bytes:
    """Four 32 × 32 H.264 frames carrying a ComfyUI prompt in their metadata,
    as Video Combine writes it: `mdta`-keyed `prompt` and `workflow` items
    (keyed), else one iTunes-style comment holding both."""
    out = pathlib.Path("/tmp/nanscope-fuzz-seed-tagged.mp4")
    prompt = '{"13": {"class_type": "Echo_Sampler", "inputs": {"steps": 6, "cfg": 2.5}}}'
    workflow = '{"nodes": [{"id": 13, "type": "Echo_Sampler", "widgets_values": [7, "fixed", 2.5, 6]}], "links": []}'
    if keyed:
        tags = ["-metadata", f"prompt={prompt}", "-metadata", f"workflow={workflow}", "-movflags", "use_metadata_tags"]
    else:
        tags = ["-metadata", f'comment={{"prompt": {prompt}, "workflow": {workflow}}}']
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=8",
         "-frames:v", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-map_metadata", "-1",
         *tags, "-fflags", "+bitexact", "-flags:v", "+bitexact", str(out)],
        check=True,
    )
    return out.read_bytes()


def webm_tagged() -> bytes:
    """Four 32 × 32 VP9 frames in WebM with a ComfyUI prompt and workflow as
    Matroska tags, as Video Combine writes its webm outputs."""
    out = pathlib.Path("/tmp/nanscope-fuzz-seed-tagged.webm")
    prompt = '{"13": {"class_type": "Echo_Sampler", "inputs": {"steps": 6, "cfg": 2.5}}}'
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=8",
         "-frames:v", "4", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-map_metadata", "-1",
         "-metadata", f"prompt={prompt}", "-metadata", 'workflow={"nodes": [], "links": []}',
         "-fflags", "+bitexact", "-flags:v", "+bitexact", str(out)],
        check=True,
    )
    return out.read_bytes()


def npz_shared_member(members: int) -> bytes:
    """A zip whose central directory lists `members` names that all point at
    one deflated 4 MiB `.npy`: every name decompresses it again."""
    buf = io.BytesIO()
    np.save(buf, np.zeros(1 << 20, dtype=np.float32))
    data = buf.getvalue()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = deflate.compress(data) + deflate.flush()
    crc = zlib.crc32(data)
    first = b"a000.npy"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), len(data), len(first), 0)
    local += first + packed
    central = b""
    for i in range(members):
        name = b"a%03d.npy" % i
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(packed), len(data), len(name), 0, 0, 0, 0, 0, 0
        ) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, members, members, len(central), len(local), 0)
    return local + central + end


def wav(tag: int, channels: int, rate: int, bits: int, frames: int, extra: bytes = b"") -> bytes:
    """A RIFF/WAVE file of `frames` silent sample frames, with `extra`
    chunks between `fmt ` and `data`."""
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if tag == 0xFFFE:
        fmt += struct.pack("<HHI", 22, bits, 3) + struct.pack("<H", 3) + b"\0" * 14
    data = b"\0" * (frames * align)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def main() -> None:
    files = {
        "gguf/regress-duplicate-name-dims-overflow.gguf": gguf_duplicate_overflow(),
        # imh_new = 1, imw_new = 16384: the 800-pixel canvas is 13107200 × 800.
        "pose-render/regress-canvas-31gb.npy": pose_frame([1, 16384, 0, 1, 0, 16384]),
        "pose-npy/regress-motion-last-frame-jump.npy": pose_jump(),
        "pose-render/regress-long-lines.npy": pose_long_lines(10),
        "mp4-boxes/moov-last.mp4": mp4(False),
        "mp4-boxes/moov-first.mp4": mp4(True),
        "mp4-boxes/sliced-cabac-aac.mp4": mp4_sliced_av(),
        "mp4-boxes/comfyui-prompt-keyed.mp4": mp4_tagged(True),
        "mp4-boxes/comfyui-prompt-comment.mp4": mp4_tagged(False),
        "matroska-tags/comfyui-prompt.webm": webm_tagged(),
        # One deflated member repeated 300 times by the central directory.
        "npz/central-directory-amplification.npz": npz_shared_member(300),
        "wav/pcm-s16-mono.wav": wav(1, 1, 16000, 16, 160),
        "wav/float-extensible-stereo-list.wav": wav(0xFFFE, 2, 48000, 32, 48, b"LIST" + struct.pack("<I", 5) + b"INFO\0\0"),
        "wav/truncated-data.wav": wav(1, 2, 44100, 24, 40)[:-7],
    }
    written = [(CORPUS / k, v) for k, v in files.items()]
    for path, data in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path}: {len(data)} bytes")


if __name__ == "__main__":
    main()
