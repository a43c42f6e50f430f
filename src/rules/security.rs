//! `S` rules: files that try to run code when loaded.

use super::Rule;
use crate::report::Severity;

pub const UNSAFE_PICKLE_GLOBAL: Rule = Rule {
    code: "S101",
    slug: "unsafe-pickle-global",
    severity: Severity::Error,
    summary: "a pickle references a callable outside the allowlist",
    detects: "A GLOBAL or STACK_GLOBAL opcode naming anything other than the torch, numpy and \
              collections rebuild functions, storages and dtypes that plain tensors need (for example \
              `builtins eval`, `os system`, `subprocess Popen`). nanscope never calls it; the readable \
              tensors of the file are still scanned.",
    why: "`torch.load(weights_only=False)` or `numpy.load(allow_pickle=True)` would call that object while \
          loading, which runs arbitrary code on the machine that loads the file.",
    cause: "A tampered or malicious checkpoint, or a file that pickled a whole Python object (a model \
            class, an optimizer, a custom subclass) instead of a plain state dict.",
    fix: "Do not load the file with pickle execution enabled. Re-export the weights from a trusted source \
          as safetensors, or load with `torch.load(weights_only=True)`.",
    options: "",
};

pub const UNSAFE_PICKLE_OPCODE: Rule = Rule {
    code: "S102",
    slug: "unsafe-pickle-opcode",
    severity: Severity::Error,
    summary: "a pickle uses an opcode that instantiates objects directly",
    detects: "The INST, OBJ, EXT1/2/4 and text PERSID opcodes and out-of-band buffers, which no tensor \
              file needs and which instantiate or resolve objects outside the GLOBAL allowlist.",
    why: "A pickle-executing loader would construct arbitrary objects from these opcodes, which can run code.",
    cause: "A hand-crafted or very old pickle; malicious files use them to evade GLOBAL checks.",
    fix: "Treat the file as untrusted; re-export the weights from a trusted source as safetensors.",
    options: "",
};

pub const PICKLE_TENSOR_SUBCLASS: Rule = Rule {
    code: "S103",
    slug: "pickle-tensor-subclass",
    severity: Severity::Warning,
    summary: "a pickle rebuilds a tensor subclass from a third-party library",
    detects: "GLOBALs naming tensor subclasses of known quantization libraries (`torchao.*`, such as \
              `Int4Tensor`), which `torch.load(weights_only=True)` only accepts after they are registered \
              as safe globals. nanscope reads the plain tensors inside them and does not call the class.",
    why: "Loading the checkpoint imports that library and runs its reconstruction code; a loader without \
          the library (or another version of it) fails, and a pipeline that catches the failure can fall \
          back to unquantized or random weights.",
    cause: "A checkpoint quantized with torchao and saved with `torch.save` instead of its safetensors \
            export.",
    fix: "Load it only where the library is installed and trusted, or export the quantized weights as \
          safetensors with their scales as plain tensors.",
    options: "",
};

pub const PICKLE_AFTER_STOP: Rule = Rule {
    code: "S104",
    slug: "pickle-after-stop",
    severity: Severity::Warning,
    summary: "another pickle follows the first pickle's STOP",
    detects: "Bytes after a pickle's STOP opcode that form one or more further pickles. nanscope reads \
              every one of them with the same inert interpreter: their globals and opcodes are judged like \
              the first pickle's (an unsafe global in any of them is an S101 error), and the arrays they hold \
              are scanned. Bytes after STOP that start like a pickle but do not parse are F109; bytes that \
              are no pickle at all are F105.",
    why: "`pickle.load` reads one pickle and stops, so a scanner that does the same never looks past the \
          first STOP; a loader that calls `load` again (legacy `torch.load` reads five pickles in a row, \
          many tools read a sequence of objects) runs whatever the later ones call.",
    cause: "Several objects written to one file with repeated `pickle.dump`, or a payload appended behind a \
            harmless pickle to hide it from scanners.",
    fix: "If the file should hold one object, treat the trailing pickles as tampering and re-export the \
          weights from a trusted source as safetensors.",
    options: "",
};

pub const PICKLE_FRAME_STRADDLE: Rule = Rule {
    code: "S105",
    slug: "pickle-frame-straddle",
    severity: Severity::Error,
    summary: "a pickle opcode crosses the end of its protocol 4 frame",
    detects: "An opcode that starts inside a FRAME and whose operand runs past the frame's declared end, or \
              a FRAME opcode that opens before the current frame ends. nanscope reads on past the boundary, \
              as CPython's C unpickler does, so the opcodes behind it are judged as well.",
    why: "CPython's C unpickler (what `pickle.load` and `torch.load` use) treats a frame as a read-ahead \
          hint and executes such an opcode; the pure-Python unpickler and scanners built on it refuse the \
          stream or stop at the boundary. A file built this way shows one reader harmless data and runs \
          code in the other. No pickler writes it.",
    cause: "A hand-crafted pickle made to evade scanners.",
    fix: "Treat the file as hostile; do not load it with pickle execution enabled. Re-export the weights \
          from a trusted source as safetensors.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &UNSAFE_PICKLE_GLOBAL,
    &UNSAFE_PICKLE_OPCODE,
    &PICKLE_TENSOR_SUBCLASS,
    &PICKLE_AFTER_STOP,
    &PICKLE_FRAME_STRADDLE,
];
