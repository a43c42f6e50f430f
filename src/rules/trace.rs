//! `R` rules for trace analysis (R120–R159) and the `F` rules of malformed
//! dump folders (F130–F139). Both families live here because a dump folder is
//! only ever read by the trace analysis.

use super::Rule;
use crate::report::Severity;

pub const NONFINITE_PRODUCER: Rule = Rule {
    code: "R120",
    slug: "nonfinite-producer",
    severity: Severity::Error,
    summary: "a module produced NaN/Inf from finite inputs",
    detects: "The first record, in execution order, whose output holds NaN or ±Inf although every input the \
              probe saw was finite (inputs whose only non-finite values are -Inf count as attention masks, \
              not as damage). The finding names the module, the stage, the denoising step, the timestep and \
              the frames, with the output's statistics and the first non-finite element.",
    why: "Every module after the producer computes on NaN: the latents of that step become NaN, the \
          following steps cannot recover them, and the VAE decodes NaN into black or noise frames. The \
          producer is where the fix belongs; the modules after it only propagate the damage.",
    cause: "An activation exceeding the dtype's range (fp16 overflows above 65504), usually after weight \
            quantization or a fine-tune enlarged a layer's outputs; a division by zero (a norm over a \
            constant input, a schedule with zero terminal SNR); or NaN already stored in the module's weights.",
    fix: "Run the named module (or its block) in fp32 or bf16, exclude it from quantization, or check its \
          weights with `nanscope weights`. The near-overflow warnings (R122) show how close neighbouring \
          modules are to the same fate.",
    options: "--allow-neg-inf GLOB (modules whose -Inf outputs are intentional masks)",
};

pub const FIRST_NONFINITE_RECORD: Rule = Rule {
    code: "R121",
    slug: "first-nonfinite-record",
    severity: Severity::Error,
    summary: "the first non-finite record of a dump whose probe did not see the inputs",
    detects: "The first record, in execution order, whose output holds NaN or ±Inf, when the probe recorded \
              no statistics for that module's inputs. Without them the record may be the producer or only \
              the first place the probe looked after the damage happened.",
    why: "NaN spreads forward through every later module and step, so the first non-finite record bounds \
          where the damage started even when it cannot prove which module made it.",
    cause: "As for R120; the inputs are unknown because the probe or backend that wrote the dump does not \
            record input statistics, or the non-finite tensor entered from code the probe does not hook.",
    fix: "Re-run with a probe that records input statistics (the Python probe does), or hook the modules \
          that run before the named one; then fix the producer as R120 describes.",
    options: "--allow-neg-inf GLOB",
};

pub const NEAR_OVERFLOW: Rule = Rule {
    code: "R122",
    slug: "near-overflow",
    severity: Severity::Warning,
    summary: "a module's output came close to its dtype's largest finite value",
    detects: "Module outputs whose absolute maximum exceeds the headroom threshold (by default half of the \
              dtype's largest finite value: 32752 in fp16) in the records before the first non-finite one. \
              The worst modules are named, each with the step where it came closest.",
    why: "A value at half the range is one doubling away from overflow: a residual addition of two such \
          tensors, a classifier-free guidance scale, or a slightly different input at another step turns \
          it into Inf, and the next normalisation turns Inf into NaN. These warnings precede fp16 NaN.",
    cause: "Layers with large weights or outlier channels (often after quantization or merging), activations \
            that grow along the denoising steps, or fp16 inference of a model trained in fp32/bf16.",
    fix: "Keep the named modules in fp32 or bf16, exclude them from quantization, or use a model \
          checkpoint with an fp16-safe VAE/UNet (such as a re-scaled fp16 VAE).",
    options: "--headroom FRACTION (0.5), --headroom-dtype auto|fp16|bf16 (auto), --headroom-top N (5)",
};

pub const NONFINITE_PROPAGATION: Rule = Rule {
    code: "R123",
    slug: "nonfinite-propagation",
    severity: Severity::Info,
    summary: "how far the non-finite values spread after they first appeared",
    detects: "A summary of the records after the first non-finite one: how many records and modules went \
              non-finite, the first record that is entirely non-finite and its stage, and the denoising \
              step at which the latents became non-finite.",
    why: "It separates the single producer from the many modules that merely propagate its NaN, so fixes \
          go to the one place that matters, and shows whether the run could have survived (partial NaN) \
          or was lost (entirely non-finite latents).",
    cause: "NaN and Inf are absorbing: almost every operation that reads them writes them.",
    fix: "Fix the producer (R120/R121); the propagation disappears with it.",
    options: "",
};

pub const NEG_INF_MASK: Rule = Rule {
    code: "R124",
    slug: "neg-inf-mask",
    severity: Severity::Info,
    summary: "-Inf outputs treated as intentional attention masks",
    detects: "Records whose only non-finite values are -Inf and whose module matches an allowed mask glob \
              (`*mask*` plus every `--allow-neg-inf` glob). They are not counted as non-finite.",
    why: "Attention masks use -Inf so that softmax gives masked positions zero weight; reporting them as \
          producers would hide the real one.",
    cause: "Additive attention masks, causal masks and padding masks.",
    fix: "Nothing to fix. If a listed module should never emit -Inf, remove its glob.",
    options: "--allow-neg-inf GLOB",
};

pub const OTHER_PRODUCER: Rule = Rule {
    code: "R125",
    slug: "independent-producer",
    severity: Severity::Warning,
    summary: "a later module also produced NaN/Inf from finite inputs",
    detects: "Records after the first producer whose outputs are non-finite although their own inputs were \
              finite: a second, independent source of NaN (for instance the VAE overflowing on its own after \
              the UNet was fixed).",
    why: "Fixing only the first producer leaves the run broken when a second one waits downstream.",
    cause: "As for R120, in another module.",
    fix: "Treat each named module like the producer: higher precision or no quantization for it.",
    options: "",
};

pub const INCOMPLETE_DUMP: Rule = Rule {
    code: "R126",
    slug: "incomplete-dump",
    severity: Severity::Warning,
    summary: "the run behind the dump crashed, was killed or is still running",
    detects: "Manifests whose `complete` flag is false (the writer did not reach its close) or that carry \
              an `aborted` error (the probe was closed by an exception, which the finding quotes). Every \
              record written before the stop is still analysed.",
    why: "A run that died (often on an exception raised by NaN-sensitive code, or out of memory) leaves a \
          dump without its last records, so later stages are missing from the timeline.",
    cause: "An exception or a killed process during the run, or a probe that was never closed.",
    fix: "Call `probe.close()` (or use the probe as a context manager); if the run crashed, the last \
          records show where.",
    options: "",
};

pub const EMPTY_DUMP: Rule = Rule {
    code: "R127",
    slug: "empty-dump",
    severity: Severity::Warning,
    summary: "the dump holds no records",
    detects: "Dump folders whose manifest is valid but lists no records. `nanscope trace` treats such a dump \
              as nothing to check and exits 2, like every command given an empty input; the finding is what \
              the analysis returns to the library's callers.",
    why: "Nothing can be localised: the probe saw no module run.",
    cause: "The probe was attached to a module the pipeline never calls (for instance `pipe.vae` whose \
            `decode` bypasses `forward`), or closed before the run.",
    fix: "Attach the probe to the modules that run (their children are hooked too) before calling the pipeline.",
    options: "",
};

const BROKEN_DUMP_WHY: &str = "The trace analysis can only localise NaN in records it can read; damaged \
    parts of a dump hide the producer or misplace it.";

pub const DUMP_MANIFEST_MISSING: Rule = Rule {
    code: "F130",
    slug: "dump-manifest-missing",
    severity: Severity::Error,
    summary: "the dump folder has no manifest.json",
    detects: "Dump folders (or paths) without a readable `manifest.json`.",
    why: BROKEN_DUMP_WHY,
    cause: "A wrong path, a probe that never started, or a dump copied without its manifest.",
    fix: "Point `nanscope trace` at the folder given to the probe, or re-run the probe.",
    options: "",
};

pub const DUMP_MANIFEST_INVALID: Rule = Rule {
    code: "F131",
    slug: "dump-manifest-invalid",
    severity: Severity::Error,
    summary: "manifest.json is not a nanscope dump manifest",
    detects: "Manifests that are not JSON, do not carry `\"format\": \"nanscope-dump\"`, declare a format \
              version this nanscope does not read, or name a records file outside the dump folder.",
    why: BROKEN_DUMP_WHY,
    cause: "A truncated or hand-edited manifest, a dump written by a newer nanscope, or another tool's file.",
    fix: "Re-run the probe, or update nanscope to read a newer format version.",
    options: "",
};

pub const DUMP_RECORD_INVALID: Rule = Rule {
    code: "F132",
    slug: "dump-record-invalid",
    severity: Severity::Error,
    summary: "a record line of the dump cannot be read",
    detects: "Lines of the records file that are not JSON objects, miss required fields (`seq`, `module`, \
              `dtype`, `shape`), carry values of the wrong type, or reference a payload outside the dump \
              folder. The finding gives the line number; other records are still analysed.",
    why: BROKEN_DUMP_WHY,
    cause: "A run killed mid-write (the last line is cut), a disk that filled up, or a third-party writer.",
    fix: "Re-run the probe; a cut last line after a crash is expected and harmless for earlier records.",
    options: "",
};

pub const DUMP_PAYLOAD_MISSING: Rule = Rule {
    code: "F133",
    slug: "dump-payload-missing",
    severity: Severity::Error,
    summary: "a record references a payload tensor that is not there",
    detects: "Records whose `payload` names a file that does not exist or cannot be read as safetensors, \
              or a tensor that file does not hold.",
    why: BROKEN_DUMP_WHY,
    cause: "Payload files deleted or not copied with the manifest, or a run killed while writing one.",
    fix: "Copy the whole dump folder, or re-run the probe.",
    options: "",
};

pub const DUMP_PAYLOAD_MISMATCH: Rule = Rule {
    code: "F134",
    slug: "dump-payload-mismatch",
    severity: Severity::Error,
    summary: "a payload tensor's dtype or shape disagrees with its record",
    detects: "Payload tensors whose dtype or shape differ from the record's `dtype` and `shape`.",
    why: BROKEN_DUMP_WHY,
    cause: "Payload files from another run mixed into the folder, or a writer bug.",
    fix: "Re-run the probe into an empty folder.",
    options: "",
};

pub const DUMP_SEQUENCE_BROKEN: Rule = Rule {
    code: "F135",
    slug: "dump-sequence-broken",
    severity: Severity::Error,
    summary: "the records' seq numbers are out of order, repeated or missing",
    detects: "Dumps whose records are not numbered 0, 1, 2, … in file order: records that come after one \
              with a higher `seq` (they are analysed sorted by `seq`, which is execution order), `seq` \
              numbers used twice, and numbers missing between 0 and the last record. The finding counts \
              each kind and names the first.",
    why: "The analysis names the module that produced NaN first in execution order; records taken in \
          the wrong order name a later module as the producer, and repeated or missing numbers mean \
          records were lost or mixed from two runs.",
    cause: "Records files concatenated or merged from several processes, a third-party writer that does \
            not number records in execution order, or a dump edited by hand.",
    fix: "Re-run the probe into an empty folder, one process per dump.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &NONFINITE_PRODUCER,
    &FIRST_NONFINITE_RECORD,
    &NEAR_OVERFLOW,
    &NONFINITE_PROPAGATION,
    &NEG_INF_MASK,
    &OTHER_PRODUCER,
    &INCOMPLETE_DUMP,
    &EMPTY_DUMP,
    &DUMP_MANIFEST_MISSING,
    &DUMP_MANIFEST_INVALID,
    &DUMP_RECORD_INVALID,
    &DUMP_PAYLOAD_MISSING,
    &DUMP_PAYLOAD_MISMATCH,
    &DUMP_SEQUENCE_BROKEN,
];
