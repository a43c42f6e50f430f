//! `G` rules of the CI gate and its baselines (G120–G159).

use super::Rule;
use crate::report::Severity;

pub const CHECK_MATCHED_NOTHING: Rule = Rule {
    code: "G120",
    slug: "check-matched-nothing",
    severity: Severity::Error,
    summary: "a gate check whose path globs match no file",
    detects: "A named check of the gate configuration whose `paths` globs, resolved against the \
              configuration's folder, match no file or folder.",
    why: "A check that checks nothing passes whatever the renders, weights or poses hold: a renamed output \
          folder or a render step that wrote nowhere would turn the gate green without a single input \
          being looked at.",
    cause: "The render step failed or wrote elsewhere, the globs are wrong (relative to the configuration \
            file, not to the working directory), or the fixtures were not checked out.",
    fix: "Make the render step write where the check looks, or correct the check's `paths` globs.",
    options: "[[gate.check]] paths",
};

pub const UNUSED_SUPPRESSION: Rule = Rule {
    code: "G121",
    slug: "unused-suppression",
    severity: Severity::Warning,
    summary: "a `[[gate.allow]]` entry that suppressed no finding",
    detects: "A suppression (code, path glob and reason) of the gate configuration that matched no finding \
              of the run, as a linter reports an unused `noqa` comment.",
    why: "A stale suppression hides the next finding that happens to match it: the problem it was written \
          for is gone, but it stays a blind spot.",
    cause: "The finding it suppressed was fixed, its code or path changed, or the entry has a typo.",
    fix: "Delete the entry, or correct its `code` and `path` so that it matches the finding it is meant for.",
    options: "[[gate.allow]] code, path, reason",
};

pub const WEIGHTS_LAYOUT_CHANGED: Rule = Rule {
    code: "G122",
    slug: "weights-layout-changed",
    severity: Severity::Error,
    summary: "a checkpoint's tensors differ in name, shape or dtype from its recorded fingerprint",
    detects: "A tensor of a checked checkpoint that is missing from, added to, or of another shape or dtype \
              than the fingerprint recorded by `gate --update-baselines` (the baseline keeps names, shapes, \
              dtypes and per-tensor statistics, not the values).",
    why: "A pipeline loads weights by name and shape: a renamed, missing or reshaped tensor fails to load or \
          is silently left at its initial values, and a dtype change (fp16 where bf16 was accepted) \
          changes where overflow starts.",
    cause: "A different export or conversion script, a partial download, or a checkpoint of another model \
            version placed where the accepted one was.",
    fix: "Restore the accepted checkpoint, or, when the change is intended, review it and accept it with \
          `nanscope gate --update-baselines`.",
    options: "[[gate.check]] baseline = true",
};

pub const WEIGHTS_STATISTICS_DRIFTED: Rule = Rule {
    code: "G123",
    slug: "weights-statistics-drifted",
    severity: Severity::Warning,
    summary: "a tensor's statistics moved beyond the tolerance from its recorded fingerprint",
    detects: "A tensor whose minimum, maximum, mean, standard deviation or absolute maximum differs from the \
              recorded fingerprint by more than the check's relative tolerance (default 1e-3 of the larger \
              magnitude), or whose count of non-finite values changed.",
    why: "The same names and shapes with other values are another checkpoint: a re-quantization, a merge or \
          a corrupted copy. A grown absolute maximum moves the layer towards fp16's limit.",
    cause: "A re-export with other quantization settings, a fine-tune or merge, or damaged bytes.",
    fix: "Compare with the accepted checkpoint (`nanscope diff`) when it is at hand; accept an intended \
          change with `nanscope gate --update-baselines`.",
    options: "[[gate.check]] tolerance (default 1e-3)",
};

pub const NO_BASELINE: Rule = Rule {
    code: "G124",
    slug: "no-baseline",
    severity: Severity::Info,
    summary: "a gate check has no recorded baseline yet",
    detects: "A check that compares with a baseline (accepted findings, weights fingerprint) while the \
              baselines folder holds none for it.",
    why: "Without a baseline every finding counts as new and no drift can be measured.",
    cause: "The baselines were never recorded, or the check was renamed.",
    fix: "Run `nanscope gate --update-baselines` on an accepted state and commit the baselines folder.",
    options: "[gate] baselines (folder, default `nanscope-baselines`)",
};

pub const RULES: &[&Rule] =
    &[&CHECK_MATCHED_NOTHING, &UNUSED_SUPPRESSION, &WEIGHTS_LAYOUT_CHANGED, &WEIGHTS_STATISTICS_DRIFTED, &NO_BASELINE];
