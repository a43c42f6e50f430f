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

pub const RULES: &[&Rule] = &[&UNSAFE_PICKLE_GLOBAL, &UNSAFE_PICKLE_OPCODE, &PICKLE_TENSOR_SUBCLASS];
