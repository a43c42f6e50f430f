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

pub const RULES: &[&Rule] = &[&UNSAFE_PICKLE_GLOBAL, &UNSAFE_PICKLE_OPCODE];
