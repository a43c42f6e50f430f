//! `F` rules: inputs that cannot be read as what they claim to be.

use super::Rule;
use crate::report::Severity;

const BROKEN_INPUT_WHY: &str = "A loader either refuses the file, crashing the pipeline before the \
    first frame, or (worse) reads garbage into the weights or poses, which later surfaces as NaN or \
    black frames far from the cause.";

pub const UNRECOGNIZED_FORMAT: Rule = Rule {
    code: "F101",
    slug: "unrecognized-format",
    severity: Severity::Error,
    summary: "the file's content matches no supported format",
    detects: "Files whose first bytes match none of the formats nanscope reads (safetensors, PyTorch zip \
              and legacy pickles, NumPy .npy/.npz, GGUF). Formats are recognised by content, never by extension. \
              When the content is text, the message says which kind: an HTML page or an XML document (a \
              download that saved the server's error or sign-in answer), JSON, a Python path-configuration \
              `.pth` file from site-packages (which a directory walk skips), or plain text. \
              Also, as info, an .npz member that is not an .npy array (numpy.load hands back its raw bytes), \
              and, as a warning, one that is a pickle: numpy does not unpickle it, but whoever does runs what it \
              names, so it is scanned like any pickle (its `S` findings follow).",
    why: BROKEN_INPUT_WHY,
    cause: "A wrong file in the model folder, an HTML error page saved as a checkpoint, or a Git LFS pointer \
            instead of the real file.",
    fix: "Check where the file came from; re-download or re-export it.",
    options: "",
};

pub const EMPTY_FILE: Rule = Rule {
    code: "F102",
    slug: "empty-file",
    severity: Severity::Error,
    summary: "the file is empty",
    detects: "Zero-byte inputs.",
    why: BROKEN_INPUT_WHY,
    cause: "An interrupted download or copy, or a writer that crashed before flushing.",
    fix: "Re-download or re-export the file.",
    options: "",
};

pub const TRUNCATED_FILE: Rule = Rule {
    code: "F103",
    slug: "truncated-file",
    severity: Severity::Error,
    summary: "the file ends before the data it declares",
    detects: "Headers, records or tensor data that extend past the end of the file. The finding gives \
              the byte offset where data was expected and the file's length.",
    why: BROKEN_INPUT_WHY,
    cause: "An interrupted download, a full disk while saving, or a copy that stopped early.",
    fix: "Re-download or re-export the file and compare its size and checksum with the source.",
    options: "",
};

pub const INVALID_HEADER: Rule = Rule {
    code: "F104",
    slug: "invalid-header",
    severity: Severity::Error,
    summary: "a header is malformed or declares absurd sizes",
    detects: "Headers that are not valid, judged by the reference loader's rules: safetensors JSON that does not \
              parse, a header length beyond the 100 MB limit or the file, `__metadata__` that is neither a string \
              map nor null, entries missing required fields; .npy versions other than 1.0, 2.0 and 3.0 (numpy \
              refuses 1.1), dicts that are not exactly `descr`/`fortran_order`/`shape`, descrs numpy cannot \
              build a dtype from (duplicate field names included), negative dimensions, headers over numpy's \
              10000-character limit; GGUF headers ggml refuses (arrays of arrays, tensor names over 63 bytes, \
              element counts not below 2^63). A shape whose element or byte count overflows says so.",
    why: BROKEN_INPUT_WHY,
    cause: "A corrupted or hand-edited file, a writer bug, or a deliberately hostile file.",
    fix: "Re-export the file with the reference writer of its format.",
    options: "",
};

pub const INVALID_LAYOUT: Rule = Rule {
    code: "F105",
    slug: "invalid-layout",
    severity: Severity::Error,
    summary: "tensor data offsets overlap, leave gaps or do not match dtype x shape",
    detects: "safetensors entries whose byte range is out of bounds, overlaps another tensor, leaves a gap \
              (empty tensors included: sorted ranges must each start where the previous ended, as the \
              reference requires), or whose length is not the element count times the dtype size; bytes after \
              the last tensor; PyTorch storages smaller than the view that reads them. Bytes after an .npy \
              array's data are a warning: numpy ignores them but never writes them.",
    why: BROKEN_INPUT_WHY,
    cause: "A buggy third-party writer, a truncated or spliced file, or a file crafted to make readers \
            read out of bounds.",
    fix: "Re-export the file with the reference writer; do not trust values read from it.",
    options: "",
};

pub const UNSUPPORTED_DTYPE: Rule = Rule {
    code: "F106",
    slug: "unsupported-dtype",
    severity: Severity::Error,
    summary: "a tensor declares an unknown or undecodable dtype",
    detects: "Tensors whose dtype string, storage class or GGUF type id is unknown, or a dtype whose values nanscope \
              cannot decode (sub-byte float formats). Other tensors of the file are still scanned. .npy arrays \
              that numpy reads but that are not numeric tensors (structured, unicode, bytes, datetime) are \
              info: their size is checked against the file, their values are not scanned.",
    why: "A loader that does not know the dtype refuses the checkpoint, or reinterprets the bytes as another \
          type and loads garbage.",
    cause: "A newer format version, a typo in a hand-written header, or a corrupted header.",
    fix: "Convert the tensor to a standard dtype, or update the loader.",
    options: "",
};

pub const DUPLICATE_KEY: Rule = Rule {
    code: "F107",
    slug: "duplicate-key",
    severity: Severity::Warning,
    summary: "a tensor name or header key appears twice in one header",
    detects: "safetensors headers that list a tensor name twice: an error when the entries claim different \
              bytes (the reference keeps the last entry and then refuses the file, since the first entry's \
              bytes are covered by no tensor), a warning when they claim the same bytes (the reference accepts \
              it; readers that keep the first entry may read another dtype or shape). `__metadata__` twice, and \
              GGUF metadata keys or tensor names twice, are errors: the reference readers refuse them.",
    why: "Two loaders can load different weights from the same file, so a model that works in one tool \
          produces garbage in another.",
    cause: "A buggy writer or a hand-merged header.",
    fix: "Re-export the file so each name appears once, and check which of the two tensors is right.",
    options: "",
};

pub const BROKEN_ARCHIVE: Rule = Rule {
    code: "F108",
    slug: "broken-archive",
    severity: Severity::Error,
    summary: "a zip archive is malformed or misses a record",
    detects: "PyTorch zip checkpoints and .npz archives whose central directory is damaged, that miss \
              `data.pkl` or a `data/<key>` storage record the pickle refers to, or whose records cannot \
              be decompressed. Two records with one name are an error naming both; the archive is judged by \
              the record its loader reads (numpy: the last; PyTorch: the one miniz's binary search over the \
              sorted directory finds, which depends on the neighbours). A record whose bytes overlap another \
              record's is not read (one deflated stream listed many times is how zip bombs multiply), and one \
              archive decompresses at most 1032 times its size and at most 4 GiB in all. The finding names \
              the zip entry.",
    why: BROKEN_INPUT_WHY,
    cause: "A truncated download, a checkpoint repacked by a tool that dropped entries, or manual editing.",
    fix: "Re-download or re-save the checkpoint with `torch.save` / `numpy.savez`.",
    options: "",
};

pub const MALFORMED_PICKLE: Rule = Rule {
    code: "F109",
    slug: "malformed-pickle",
    severity: Severity::Error,
    summary: "a pickle stream cannot be interpreted",
    detects: "Unknown opcodes, truncated operands, stack underflow, memo misses, nesting beyond the depth \
              limit, and structures that do not describe tensors where tensors are expected. The finding \
              gives the byte offset within the pickle.",
    why: BROKEN_INPUT_WHY,
    cause: "A truncated or corrupted file, a pickle from an unsupported protocol, or a hostile file.",
    fix: "Re-save the checkpoint; prefer safetensors for distribution.",
    options: "",
};

pub const SHARD_INDEX_MISMATCH: Rule = Rule {
    code: "F110",
    slug: "shard-index-mismatch",
    severity: Severity::Error,
    summary: "a sharded checkpoint's index disagrees with its shards",
    detects: "`*.index.json` weight maps that name a missing shard, list a key its shard does not hold, \
              hold a key in two shards, or leave a shard file unlisted.",
    why: "Loaders follow the index: a key it misplaces is missing at load time and, with `strict=False` \
          loading as in EchoMimicV2, silently stays at its random or zero initial value.",
    cause: "Shards from two different exports mixed in one folder, or an index edited by hand.",
    fix: "Re-export the sharded checkpoint in one go, or regenerate the index from the shards.",
    options: "",
};

pub const UNREADABLE_FILE: Rule = Rule {
    code: "F111",
    slug: "unreadable-file",
    severity: Severity::Error,
    summary: "the file cannot be opened or read",
    detects: "I/O errors: missing paths, permission denied, files that cannot be memory-mapped.",
    why: "A checkpoint the pipeline cannot read stops it, or makes it fall back to default weights.",
    cause: "A wrong path, permissions, or a file removed while scanning.",
    fix: "Check the path and permissions.",
    options: "",
};

pub const GIT_LFS_POINTER: Rule = Rule {
    code: "F112",
    slug: "git-lfs-pointer",
    severity: Severity::Error,
    summary: "a Git LFS pointer stands where the checkpoint should be",
    detects: "Files that are Git LFS pointers (a `version https://git-lfs.github.com/spec/v1` line, the \
              object's `oid` and `size`, under 1 KB) wherever a checkpoint is read, whatever their name. The \
              finding gives the object's hash and size.",
    why: "`torch.load` stops with `invalid load key, 'v'` and `safetensors` with a header error, so the \
          pipeline does not start; a loader that falls back to default weights runs on random ones.",
    cause: "`git clone` of a Hugging Face weights repository (EchoMimicV2's `pretrained_weights/`, \
            `sd-vae-ft-mse`) on a machine without Git LFS, or with `GIT_LFS_SKIP_SMUDGE=1`: every large file is \
            left as its pointer.",
    fix: "Install Git LFS and fetch the objects in that clone: `git lfs install`, then `git lfs pull` inside it.",
    options: "",
};

pub const BYTE_SWAPPED_GGUF: Rule = Rule {
    code: "F120",
    slug: "byte-swapped-gguf",
    severity: Severity::Error,
    summary: "a GGUF file is big-endian",
    detects: "GGUF files whose version field reads as a byte-swapped 2 or 3, which is how big-endian \
              files (written for s390x and similar hosts, with no flag in the header) look to a \
              little-endian reader. nanscope does not read them further.",
    why: "A little-endian loader reads every count, shape and scale byte-swapped: it refuses the file or, \
          for hand-rolled readers, loads nonsense weights.",
    cause: "A conversion run on a big-endian machine, or `convert_hf_to_gguf.py --bigendian`.",
    fix: "Convert the model again on (or for) a little-endian machine.",
    options: "",
};

pub const MISALIGNED_TENSOR_DATA: Rule = Rule {
    code: "F121",
    slug: "misaligned-tensor-data",
    severity: Severity::Error,
    summary: "a tensor's data offset is not a multiple of the file's alignment",
    detects: "GGUF tensor infos whose data offset is not a multiple of `general.alignment` (default 32). \
              The finding gives the tensor, its offset and the alignment.",
    why: "ggml refuses such files, and readers that map the data straight into typed arrays either fault \
          or read elements shifted by a few bytes, which turns every block scale into garbage.",
    cause: "A hand-written or buggy GGUF writer that forgot the padding between tensors, or a file edited \
            after writing.",
    fix: "Re-export the file with gguf-py or llama.cpp's converters, which pad every tensor.",
    options: "",
};

pub const UNPACKED_TENSOR_DATA: Rule = Rule {
    code: "F122",
    slug: "unpacked-tensor-data",
    severity: Severity::Error,
    summary: "a GGUF tensor's data is not where ggml's packing puts it",
    detects: "GGUF tensor infos whose data offset differs from the one ggml computes: tensors in header order, \
              the first at offset 0 of the data section, each next one where the previous ended, padded to \
              `general.alignment`. Gaps, reordered tensors and missing padding all show here. The first such \
              tensor is reported (ggml stops there as well).",
    why: "ggml (and so llama.cpp and every tool built on it) refuses the file with `tensor has offset X, \
          expected Y`; other readers that follow the offsets load it, so the file works in one tool and not in \
          another.",
    cause: "A GGUF writer other than gguf-py or ggml's own, a tensor removed or reordered by editing the header, \
            or padding left out between tensors.",
    fix: "Re-export the file with gguf-py or llama.cpp's converters.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &UNRECOGNIZED_FORMAT,
    &EMPTY_FILE,
    &TRUNCATED_FILE,
    &INVALID_HEADER,
    &INVALID_LAYOUT,
    &UNSUPPORTED_DTYPE,
    &DUPLICATE_KEY,
    &BROKEN_ARCHIVE,
    &MALFORMED_PICKLE,
    &SHARD_INDEX_MISMATCH,
    &UNREADABLE_FILE,
    &GIT_LFS_POINTER,
    &BYTE_SWAPPED_GGUF,
    &MISALIGNED_TENSOR_DATA,
    &UNPACKED_TENSOR_DATA,
];
