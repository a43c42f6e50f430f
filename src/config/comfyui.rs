//! ComfyUI workflows: the graph the UI saves (`nodes`, each with positional
//! `widgets_values`) and the prompt its API queues (node ids mapping to a
//! `class_type` and named `inputs`). The settings of the EchoMimic nodes are
//! read and checked as a prompt config's run parameters are; a workflow
//! without them is listed by its node classes, not judged.

use super::check::{Setting, Variant};
use super::echomimic::{self, Param};
use super::findings;
use super::yaml::Node;
use crate::numerics::QuantScheme;
use crate::report::{Finding, fmt_num};

/// A node class of an EchoMimic node pack and the orders its widgets have
/// had in saved graphs, newest first: the UI saves widget values by
/// position, and the packs have added and moved widgets between versions.
struct KnownNode {
    class: &'static str,
    pack: &'static str,
    layouts: &'static [&'static [&'static str]],
}

/// Nodes whose settings are read (a name starting with `_` is a widget of
/// the UI alone, skipped). EchoMimicV2-ComfyUI (AIFSH) runs the whole
/// pipeline in one node; ComfyUI_EchoMimic (smthemex) splits it into a
/// loader, the inputs and a sampler. `LoadImage` and `LoadAudio` name the
/// files the run read from `input/`.
const KNOWN: &[KnownNode] = &[
    KnownNode {
        class: "EchoMimicV2Node",
        pack: "EchoMimicV2-ComfyUI",
        // Since November 27, 2024 the frame rate is the pose node's
        // `tgt_fps`; a day before, `duration` (frames per segment) came first.
        layouts: &[
            &["duration", "steps", "cfg", "context_frames", "context_overlap", "if_low_varm", "store_in_varm", "seed"],
            &[
                "duration",
                "steps",
                "cfg",
                "context_frames",
                "context_overlap",
                "fps",
                "if_low_varm",
                "store_in_varm",
                "seed",
            ],
            &["steps", "cfg", "context_frames", "context_overlap", "fps", "if_low_varm", "store_in_varm", "seed"],
        ],
    },
    KnownNode {
        class: "EchoMimicV2PoseNode",
        pack: "EchoMimicV2-ComfyUI",
        layouts: &[&["pose", "tgt_fps", "if_draw_ori_frame"], &["pose", "if_draw_ori_frame"], &["pose"]],
    },
    KnownNode {
        class: "Echo_LoadModel",
        pack: "ComfyUI_EchoMimic",
        layouts: &[
            &[
                "vae",
                "lora",
                "denoising",
                "infer_mode",
                "lowvram",
                "teacache_offload",
                "block_offload",
                "use_mmgp",
                "version",
            ],
            &["vae", "lora", "denoising", "infer_mode", "lowvram", "teacache_offload", "use_mmgp", "version"],
            &["vae", "denoising", "infer_mode", "lowvram", "teacache_offload", "use_mmgp", "version"],
            &["vae", "denoising", "infer_mode", "draw_mouse", "motion_sync", "lowvram", "version"],
        ],
    },
    KnownNode {
        class: "Echo_Predata",
        pack: "ComfyUI_EchoMimic",
        layouts: &[&[
            "prompt",
            "negative_prompt",
            "pose_dir",
            "width",
            "height",
            "fps",
            "facemask_ratio",
            "facecrop_ratio",
            "length",
            "partial_video_length",
            "draw_mouse",
            "motion_sync_",
        ]],
    },
    KnownNode {
        class: "Echo_Sampler",
        pack: "ComfyUI_EchoMimic",
        layouts: &[
            &["seed", "cfg", "steps", "sample_rate", "context_frames", "context_overlap", "save_video"],
            &[
                "pose_dir",
                "seed",
                "cfg",
                "steps",
                "fps",
                "sample_rate",
                "facemask_ratio",
                "facecrop_ratio",
                "context_frames",
                "context_overlap",
                "length",
                "width",
                "height",
                "save_video",
            ],
        ],
    },
    KnownNode { class: "LoadImage", pack: "ComfyUI", layouts: &[&["image", "_upload"], &["image"]] },
    KnownNode { class: "LoadAudio", pack: "ComfyUI", layouts: &[&["audio", "_player", "_upload"], &["audio"]] },
];

/// Classes that make a workflow an EchoMimic one.
const ECHOMIMIC_CLASSES: [&str; 4] = ["EchoMimicV2Node", "Echo_LoadModel", "Echo_Predata", "Echo_Sampler"];

/// The values the UI saves after a seed widget for what to do with it next.
const SEED_CONTROLS: [&str; 4] = ["fixed", "increment", "decrement", "randomize"];

/// Widgets that hold a boolean.
const BOOLEAN_WIDGETS: &[&str] = &[
    "denoising",
    "lowvram",
    "teacache_offload",
    "block_offload",
    "draw_mouse",
    "motion_sync",
    "motion_sync_",
    "save_video",
    "if_low_varm",
    "store_in_varm",
    "if_draw_ori_frame",
];

/// Widgets that hold a whole number (an `INT` widget).
const INTEGER_WIDGETS: &[&str] = &[
    "steps",
    "context_frames",
    "context_overlap",
    "seed",
    "width",
    "height",
    "length",
    "sample_rate",
    "partial_video_length",
    "duration",
    "tgt_fps",
];

/// Widgets that hold any number (a `FLOAT` widget, or one whose type
/// differs between packs).
const NUMBER_WIDGETS: &[&str] = &["cfg", "fps", "facemask_ratio", "facecrop_ratio"];

/// Widgets whose values the UI keeps to a range and a step: (name, least,
/// most, step). EchoMimicV2-ComfyUI's `duration` tells its layouts apart
/// where the types alone cannot.
const WIDGET_RANGES: &[(&str, i64, i64, i64)] = &[("duration", 12, 240, 12)];

/// Whether `doc` is a ComfyUI workflow, as the UI saves it or as its API
/// queues it.
pub(crate) fn is_workflow(doc: &Node) -> bool {
    let ui = matches!(doc.get("nodes"), Some(Node::Seq(nodes)) if nodes.iter().any(|n| n.get("type").is_some()))
        && doc.get("links").is_some();
    ui || api_nodes(doc).next().is_some()
}

/// The heading under which ComfyUI's error report attaches the workflow that
/// failed, as one line of JSON in a fenced block.
const ATTACHED: &str = "## Attached Workflow";

/// The workflow an error report of ComfyUI's attaches, with the 1-based
/// line it starts on; `None` when the text attaches none (or only says the
/// workflow was too large to attach).
pub(crate) fn attached_workflow(text: &str) -> Option<(u64, &str)> {
    let mut offset = 0;
    let mut lines = text.split_inclusive('\n').zip(1u64..).map(|(line, number)| {
        let start = offset;
        offset += line.len();
        (number, start, line.trim_end())
    });
    lines.find(|(_, _, line)| line.trim() == ATTACHED)?;
    // The fence follows a line of advice.
    lines.find(|(_, _, line)| line.starts_with("```"))?;
    let (first, start, line) = lines.next()?;
    if line.starts_with("```") {
        return None;
    }
    let end = lines.find(|(_, _, line)| line.starts_with("```")).map_or(text.len(), |(_, at, _)| at);
    let block = text[start..end].trim_end();
    block.starts_with('{').then_some((first, block))
}

/// Whether a text (a whole workflow file) names a node of an EchoMimic pack.
pub fn names_echomimic_node(text: &str) -> bool {
    ECHOMIMIC_CLASSES.iter().any(|class| text.contains(&format!("\"{class}\"")))
}

/// One node of the graph, with the widget values it was run with.
struct GraphNode<'a> {
    id: String,
    class: &'a str,
    /// Each widget's name, value and the line that states it.
    widgets: Vec<(&'a str, &'a Node, u64)>,
    /// Positional values that fit none of the layouts known for the class.
    unread: bool,
    /// The inputs another node's output feeds.
    linked: Vec<&'a str>,
}

impl GraphNode<'_> {
    fn get(&self, name: &str) -> Option<(&Node, u64)> {
        self.widgets.iter().find(|(n, _, _)| *n == name).map(|(_, v, l)| (*v, *l))
    }

    fn number(&self, name: &str) -> Option<Param> {
        let (value, line) = self.get(name)?;
        let value = value.as_f64().filter(|v| v.is_finite())?;
        Some(Param { value, key: Some((format!("{}.{name}", self.class), Some(line))) })
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|(v, _)| v.as_str())
    }
}

/// The API form's nodes: top-level entries whose value has a `class_type`.
fn api_nodes(doc: &Node) -> impl Iterator<Item = GraphNode<'_>> {
    let entries = match doc {
        Node::Map(entries) => &entries[..],
        _ => &[],
    };
    entries.iter().filter_map(|entry| {
        let class = entry.value.get("class_type")?.as_str()?;
        let inputs = match entry.value.get("inputs") {
            Some(Node::Map(inputs)) => &inputs[..],
            _ => &[],
        };
        // A list value is a link to another node's output, not a setting.
        let (links, widgets): (Vec<_>, Vec<_>) = inputs.iter().partition(|i| matches!(i.value, Node::Seq(_)));
        let widgets = widgets.into_iter().map(|i| (i.key.as_str(), &i.value, i.line)).collect();
        let linked = links.into_iter().map(|i| i.key.as_str()).collect();
        Some(GraphNode { id: entry.key.clone(), class, widgets, unread: false, linked })
    })
}

/// The UI form's nodes that run, their positional widget values named by
/// the layout that fits them best.
fn ui_nodes(doc: &Node) -> Vec<GraphNode<'_>> {
    let Some(Node::Seq(nodes)) = doc.get("nodes") else { return Vec::new() };
    nodes
        .iter()
        .filter_map(|node| {
            // A muted (2) or bypassed (4) node did not run.
            if matches!(node.get("mode").and_then(Node::as_f64), Some(m) if m == 2.0 || m == 4.0) {
                return None;
            }
            let class = node.get("type")?.as_str()?;
            let id = node.get("id").map_or_else(String::new, Node::display);
            let (widgets, unread) = match node.entry("widgets_values") {
                Some(entry) => match &entry.value {
                    Node::Map(named) => (named.iter().map(|w| (w.key.as_str(), &w.value, w.line)).collect(), false),
                    Node::Seq(values) => match KNOWN.iter().find(|k| k.class == class) {
                        Some(known) => match best_layout(known, values) {
                            Some(named) => (named.into_iter().map(|(n, v)| (n, v, entry.line)).collect(), false),
                            None => (Vec::new(), true),
                        },
                        None => (Vec::new(), false),
                    },
                    _ => (Vec::new(), false),
                },
                None => (Vec::new(), false),
            };
            // Each input the UI lists names the link that feeds it, or null.
            let linked = match node.get("inputs") {
                Some(Node::Seq(inputs)) => inputs
                    .iter()
                    .filter(|i| matches!(i.get("link"), Some(link) if *link != Node::Null))
                    .filter_map(|i| i.get("name")?.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            Some(GraphNode { id, class, widgets, unread, linked })
        })
        .collect()
}

/// Names positional values by the layout of their count whose widgets'
/// types they fit best, the newest on a tie; a value of the wrong type is
/// left out.
fn best_layout<'a>(known: &KnownNode, values: &'a [Node]) -> Option<Vec<(&'static str, &'a Node)>> {
    known
        .layouts
        .iter()
        // The last of equal maxima wins: the newest layout, listed first.
        .rev()
        .filter_map(|layout| name_values(layout, values))
        .max_by_key(|named| named.iter().filter(|(n, v)| fits(n, v)).count())
        .map(|named| named.into_iter().filter(|(n, v)| !n.starts_with('_') && fits(n, v)).collect())
}

/// Pairs values with a layout's widgets, skipping the control value the UI
/// saves after a seed; `None` when the counts differ.
fn name_values<'a>(layout: &[&'static str], values: &'a [Node]) -> Option<Vec<(&'static str, &'a Node)>> {
    let mut named = Vec::with_capacity(layout.len());
    let mut rest = values.iter().peekable();
    for name in layout {
        named.push((*name, rest.next()?));
        if *name == "seed" && rest.peek().and_then(|v| v.as_str()).is_some_and(|s| SEED_CONTROLS.contains(&s)) {
            rest.next();
        }
    }
    rest.next().is_none().then_some(named)
}

fn fits(name: &str, value: &Node) -> bool {
    if name.starts_with('_') {
        true
    } else if BOOLEAN_WIDGETS.contains(&name) {
        matches!(value, Node::Bool(_))
    } else if INTEGER_WIDGETS.contains(&name) {
        let whole = match value {
            Node::Int(n) => Some(*n),
            Node::Float(x) if x.fract() == 0.0 && x.abs() < 9e15 => Some(*x as i64),
            _ => None,
        };
        whole.is_some_and(|n| {
            WIDGET_RANGES.iter().filter(|r| r.0 == name).all(|&(_, least, most, step)| {
                (least..=most).contains(&n) && (n - least) % step == 0
            })
        })
    } else if NUMBER_WIDGETS.contains(&name) {
        matches!(value, Node::Int(_) | Node::Float(_))
    } else {
        matches!(value, Node::Str(_) | Node::Null)
    }
}

/// What the checks found in one workflow.
pub(crate) struct WorkflowCheck {
    pub findings: Vec<Finding>,
    pub settings: Vec<Setting>,
    /// The EchoMimicV2 pipeline variant its nodes run, when they run V2.
    pub variant: Option<Variant>,
}

/// Reads a workflow's EchoMimic nodes and checks their settings; `windows`
/// when the run is known to have run on Windows (its error report or log
/// says so).
pub(crate) fn check(doc: &Node, file: &str, windows: bool) -> WorkflowCheck {
    let mut nodes: Vec<GraphNode> = api_nodes(doc).collect();
    if nodes.is_empty() {
        nodes = ui_nodes(doc);
    }
    let mut out = findings::Sink::new(file);
    let mut settings = Vec::new();
    for node in nodes.iter().filter(|n| KNOWN.iter().any(|k| k.class == n.class)) {
        if node.unread {
            settings.push(Setting::new(
                node.class,
                "-".into(),
                format!("node {}: its widget values fit no layout known for {}", node.id, pack_of(node.class)),
                None,
            ));
        }
        for (name, value, line) in &node.widgets {
            let meaning = format!("node {} ({})", node.id, pack_of(node.class));
            settings.push(Setting::new(&format!("{}.{name}", node.class), short(value), meaning, Some(*line)));
        }
    }
    if !nodes.iter().any(|n| ECHOMIMIC_CLASSES.contains(&n.class)) {
        let mut classes: Vec<&str> = nodes.iter().map(|n| n.class).collect();
        classes.sort_unstable();
        classes.dedup();
        let listed = crate::report::list_some(&classes, 6);
        settings.push(Setting::new("echomimic_nodes", "none".into(), format!("not judged: its nodes are {listed}"), None));
        return WorkflowCheck { findings: out.findings, settings, variant: None };
    }
    let mut variant = None;
    for node in nodes.iter().filter(|n| n.class == "EchoMimicV2Node") {
        let pose = nodes.iter().find(|n| n.class == "EchoMimicV2PoseNode");
        aifsh(node, pose, windows, &mut out, &mut settings);
        variant = Some(Variant::Normal);
    }
    for sampler in nodes.iter().filter(|n| n.class == "Echo_Sampler") {
        let loader = nodes.iter().find(|n| n.class == "Echo_LoadModel");
        let inputs = nodes.iter().find(|n| n.class == "Echo_Predata");
        variant = smthemex(sampler, loader, inputs, &mut out, &mut settings).or(variant);
    }
    WorkflowCheck { findings: out.findings, settings, variant }
}

fn pack_of(class: &str) -> &'static str {
    KNOWN.iter().find(|k| k.class == class).map_or("", |k| k.pack)
}

/// A widget value for a report cell: long prompts cut.
fn short(value: &Node) -> String {
    let text = value.display();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// EchoMimicV2-ComfyUI's node: the released normal pipeline at 768×768,
/// audio resampled to 16 kHz, the length taken from the audio, the frame
/// rate its own (before November 27, 2024) or the pose node's. Its
/// `if_low_varm` quantizes the VAE and the reference UNet when the models
/// load: torchao int8 weight-only (on Windows the node's fp8 fallback
/// leaves the fp16 weights as they are).
fn aifsh(
    node: &GraphNode,
    pose: Option<&GraphNode>,
    windows: bool,
    out: &mut findings::Sink,
    settings: &mut Vec<Setting>,
) {
    if let Some((value @ Node::Bool(true), line)) = node.get("if_low_varm") {
        let key = format!("{}.if_low_varm", node.class);
        if windows {
            let meaning = "on Windows the node's fp8 fallback leaves the fp16 weights as they are: nothing quantized";
            settings.push(Setting::new(&key, value.display(), meaning.into(), Some(line)));
        } else {
            out.push(
                findings::quantization(&key, line, &value.display(), Some(QuantScheme::Int8Channel))
                    .with_evidence("models", vec!["vae", "reference_unet"])
                    .with_help(
                        "EchoMimicV2-ComfyUI's if_low_varm quantizes the VAE and the reference UNet to int8 \
                         weight-only with torchao when the models load, and the log says nothing of it; on Windows \
                         the node falls back to an fp8 patch that leaves their fp16 weights as they are",
                    ),
            );
        }
    }
    run_parameters(node, pose, out, settings, Variant::Normal, None);
    if pose.is_some() {
        let meaning = "EchoMimicV2Node takes the length from the audio and starts the poses again from the first \
                       when they run out";
        settings.push(Setting::new(POSES_REPEAT, "true".into(), meaning.into(), None));
    }
    if let Some((Node::Str(name), line)) = pose.and_then(|p| p.get("pose")) {
        let (folder, meaning) = match name.as_str() {
            "default" => (AIFSH_POSES.to_string(), "EchoMimicV2PoseNode.pose default: the node's own poses"),
            _ => (
                format!("output/EchoMimicV2/DWPose/pose/{name}"),
                "EchoMimicV2PoseNode.pose: drawn from its driving video the first time the name is queued, read again \
                 after",
            ),
        };
        settings.push(Setting::new(POSE_FOLDER, folder, meaning.into(), Some(line)));
    }
}

/// The setting that names the folder of pose frames a workflow's run read,
/// below the ComfyUI folder; a node's own folder is written with its pack's
/// name, and a last component `*` stands for any folder there.
pub(crate) const POSE_FOLDER: &str = "pose_folder";

/// The setting that says the run's pipeline repeats the poses to the
/// audio's length (`true`), as EchoMimicV2-ComfyUI's node has since its
/// pose node came (November 25, 2024); before, it stopped with them.
pub(crate) const POSES_REPEAT: &str = "poses_repeat";

/// EchoMimicV2-ComfyUI's own poses, which its pose node's `default` reads.
const AIFSH_POSES: &str = "custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01";

/// The names ComfyUI_EchoMimic's `pose_dir` gives its demo pose folders
/// (`echomimic_v2/assets/halfbody_demo/pose/01`, …); any other name is a
/// folder below `input/tensorrt_lite/`.
const SMTHEMEX_DEMO_POSES: [&str; 8] =
    ["pose_01", "pose_02", "pose_03", "pose_04", "pose_fight", "pose_good", "pose_salute", "pose_ultraman"];

/// Where ComfyUI_EchoMimic's EchoMimicV2 run read its poses: in the DWPose
/// and Sapiens modes with a driving video linked, a new folder drawn from
/// the video; else the demo folder or the `input/tensorrt_lite/` folder
/// `pose_dir` names.
fn smthemex_poses(nodes: [Option<&GraphNode>; 2], mode: Option<&str>, settings: &mut Vec<Setting>) {
    let Some(node) = nodes.into_iter().flatten().find(|n| n.get("pose_dir").is_some()) else { return };
    let Some((Node::Str(name), line)) = node.get("pose_dir") else { return };
    let video = node.linked.contains(&"video_images");
    let (folder, meaning) = match mode {
        Some(mode @ ("pose_normal_dwpose" | "pose_normal_sapiens")) if video => (
            "input/tensorrt_lite/*".to_string(),
            format!("{}.video_images is linked: the {mode} mode draws the poses from it into a new folder", node.class),
        ),
        // Without the loader the mode is not known.
        None if video => return,
        _ => match name.strip_prefix("pose_").filter(|_| SMTHEMEX_DEMO_POSES.contains(&name.as_str())) {
            Some(demo) => (
                format!("custom_nodes/ComfyUI_EchoMimic/echomimic_v2/assets/halfbody_demo/pose/{demo}"),
                format!("{}.pose_dir {name}: the node's demo poses", node.class),
            ),
            None => (format!("input/tensorrt_lite/{name}"), format!("{}.pose_dir {name}", node.class)),
        },
    };
    settings.push(Setting::new(POSE_FOLDER, folder, meaning, Some(line)));
}

/// ComfyUI_EchoMimic's nodes: the loader names the version and the mode
/// (`*_acc` runs the accelerated weights), the sampler the steps, guidance
/// and windows, the inputs node (in later versions) the size, fps and
/// length. Its `lowvram` offloads models to the CPU and changes no number.
fn smthemex(
    sampler: &GraphNode,
    loader: Option<&GraphNode>,
    inputs: Option<&GraphNode>,
    out: &mut findings::Sink,
    settings: &mut Vec<Setting>,
) -> Option<Variant> {
    let version = loader.and_then(|l| l.text("version"));
    if let Some(version) = version.filter(|v| *v != "V2") {
        settings.push(Setting::new(
            "checked",
            "no".into(),
            format!("Echo_LoadModel.version {version} runs EchoMimic {version}, not EchoMimicV2"),
            None,
        ));
        if let Some(loader) = loader.filter(|_| version.starts_with("V3")) {
            echomimic_v3(loader, version, out, settings);
        }
        return None;
    }
    let mode = loader.and_then(|l| l.text("infer_mode")).unwrap_or("");
    let variant = if mode.ends_with("acc") { Variant::Acc } else { Variant::Normal };
    run_parameters(sampler, inputs, out, settings, variant, loader.map(|_| mode));
    smthemex_poses([inputs, Some(sampler)], loader.map(|_| mode), settings);
    Some(variant)
}

/// The setting that says a workflow runs EchoMimicV3 through
/// ComfyUI_EchoMimic: its value is the loader's `version` (`V3`, `V3_flash`).
pub(crate) const ECHOMIMIC_V3: &str = "echomimic_v3";

/// ComfyUI_EchoMimic's EchoMimicV3 modes. With a `use_mmgp` profile the
/// loader hands the pipeline to mmgp with `quantizeTransformer` set from
/// `lowvram` (since the node's version of August 20, 2025; before, every
/// profile quantized): mmgp then quantizes the transformer to
/// optimum-quanto qint8, per output channel, as it loads. The flash
/// loader reads that flag from config.yaml, which does not hold it.
fn echomimic_v3(loader: &GraphNode, version: &str, out: &mut findings::Sink, settings: &mut Vec<Setting>) {
    let line = loader.get("version").map(|(_, line)| line);
    settings.push(Setting::new(
        ECHOMIMIC_V3,
        version.into(),
        format!("Echo_LoadModel.version {version}: ComfyUI_EchoMimic runs EchoMimicV3 (its echomimic_v3/ folder)"),
        line,
    ));
    let Some((Node::Str(profile), line)) = loader.get("use_mmgp") else { return };
    if profile == "None" {
        return;
    }
    let key = "Echo_LoadModel.use_mmgp";
    if version == "V3_flash" {
        out.push(findings::loader_setting_stops(
            key,
            line,
            &format!(
                "use_mmgp {profile} with version V3_flash: the flash loader passes mmgp config.yaml's \
                 quantize_transformer, which config.yaml does not hold, and stops at load (`Missing key \
                 quantize_transformer`)"
            ),
        ));
    } else if matches!(loader.get("lowvram"), Some((Node::Bool(false), _))) {
        let meaning = "mmgp offloads the pipeline; lowvram false keeps the transformer unquantized (in the node's \
                       versions since August 20, 2025; before, every profile quantized it)";
        settings.push(Setting::new(key, profile.clone(), meaning.into(), Some(line)));
    } else {
        out.push(
            findings::quantization(key, line, profile, Some(QuantScheme::Int8Channel))
                .with_evidence("models", vec!["transformer"])
                .with_evidence("quantizer", "mmgp")
                .with_help(
                    "ComfyUI_EchoMimic hands EchoMimicV3's pipeline to this mmgp profile with quantizeTransformer \
                     set from Echo_LoadModel.lowvram: mmgp quantizes the transformer to optimum-quanto qint8 (per \
                     output channel) as it loads. lowvram false, or use_mmgp None, keeps it bfloat16; node \
                     versions before August 20, 2025 quantized it whatever lowvram said",
                ),
        );
    }
}

/// The name under which an inputs node holds a run parameter, where it
/// differs: EchoMimicV2-ComfyUI's pose node holds the frame rate.
fn alias(name: &str) -> Option<&'static str> {
    (name == "fps").then_some("tgt_fps")
}

/// The run parameter checks of a prompt config, on a node's widgets (the
/// sampler's, then the inputs node's); what neither states keeps the
/// default of the pipeline variant, except the length, which ComfyUI's
/// nodes take from the audio.
fn run_parameters(
    node: &GraphNode,
    inputs: Option<&GraphNode>,
    out: &mut findings::Sink,
    settings: &mut Vec<Setting>,
    variant: Variant,
    mode: Option<&str>,
) {
    let param = |name: &str| {
        node.number(name)
            .or_else(|| inputs.and_then(|n| n.number(name).or_else(|| n.number(alias(name)?))))
            .unwrap_or_else(|| Param { value: echomimic::default_of(name, variant), key: None })
    };
    let stated = |name: &str| node.get(name).is_some() || inputs.is_some_and(|n| n.get(name).is_some());
    settings.push(Setting::new(
        "variant",
        variant.as_str().into(),
        match mode {
            Some(mode) => format!("from Echo_LoadModel.infer_mode {mode}"),
            None => format!("{} runs the {} pipeline", node.class, variant.as_str()),
        },
        None,
    ));
    echomimic::guidance_and_steps(&param("cfg"), &param("steps"), variant, out);
    if stated("width") || stated("height") {
        echomimic::size(&param("width"), &param("height"), None, out);
    }
    let length = stated("length").then(|| param("length"));
    echomimic::windows(length.as_ref(), &param("context_frames"), &param("context_overlap"), out, settings);
    let fps = param("fps");
    echomimic::audio(&param("sample_rate"), &fps, out);
    if let Some((key, _)) = &fps.key {
        settings.push(Setting::new("fps", fmt_num(fps.value), format!("frames per second, from {key}"), None));
    }
    if let Some(length) = &length {
        settings.push(Setting::new("length", fmt_num(length.value), "frames".into(), None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::config as rules;

    fn checked(text: &str) -> WorkflowCheck {
        let doc = super::super::yaml::parse(text).unwrap();
        assert!(is_workflow(&doc), "not taken for a workflow: {text}");
        check(&doc, "workflow.json", false)
    }

    fn ui(nodes: &str) -> String {
        format!(r#"{{"last_node_id": 5, "nodes": [{nodes}], "links": [], "version": 0.4}}"#)
    }

    fn codes(check: &WorkflowCheck) -> Vec<&str> {
        check.findings.iter().map(|f| f.rule.code).collect()
    }

    #[test]
    fn the_aifsh_node_s_low_vram_option_quantizes_the_vae_and_reference_unet() {
        let text = ui(r#"{"id": 1, "type": "EchoMimicV2Node",
            "widgets_values": [30, 2.5, 12, 3, 24, true, true, 1478, "randomize"]}"#);
        let check = checked(&text);
        assert_eq!(codes(&check), ["C113"]);
        let f = &check.findings[0];
        assert!(f.is(&rules::QUANTIZATION_CONFIGURED));
        assert_eq!(f.evidence["models"], serde_json::json!(["vae", "reference_unet"]));
        assert_eq!(f.subject.key.as_deref(), Some("EchoMimicV2Node.if_low_varm"));
        assert_eq!(check.variant, Some(Variant::Normal));
        let seed = check.settings.iter().find(|s| s.key == "EchoMimicV2Node.seed").unwrap();
        assert_eq!(seed.value, "1478");

        let doc = super::super::yaml::parse(&text).unwrap();
        let on_windows = super::check(&doc, "workflow.json", true);
        assert!(on_windows.findings.is_empty());
        assert!(on_windows.settings.iter().any(|s| s.meaning.contains("nothing quantized")));

        let off = ui(r#"{"id": 1, "type": "EchoMimicV2Node",
            "widgets_values": [30, 2.5, 12, 3, 24, false, true, 1478, "fixed"]}"#);
        assert!(checked(&off).findings.is_empty());
        let bypassed = text.replace(r#""id": 1,"#, r#""id": 1, "mode": 4,"#);
        assert_ne!(bypassed, text);
        assert!(checked(&bypassed).findings.is_empty());
    }

    #[test]
    fn the_aifsh_node_s_three_layouts_are_told_apart() {
        let setting = |check: &WorkflowCheck, key: &str| {
            check.settings.iter().find(|s| s.key == key).map(|s| s.value.clone()).unwrap_or_default()
        };
        // Since November 27, 2024: duration first, the frame rate on the pose node.
        let text = ui(r#"{"id": 4, "type": "EchoMimicV2Node",
              "widgets_values": [120, 30, 2.5, 12, 3, false, true, 42, "randomize"]},
            {"id": 5, "type": "EchoMimicV2PoseNode", "widgets_values": ["default", 24, false]}"#);
        let check = checked(&text);
        assert_eq!(codes(&check), Vec::<&str>::new());
        assert_eq!(setting(&check, "EchoMimicV2Node.duration"), "120");
        assert_eq!(setting(&check, "EchoMimicV2Node.steps"), "30");
        assert_eq!(setting(&check, "EchoMimicV2Node.context_overlap"), "3");
        assert_eq!(setting(&check, "EchoMimicV2PoseNode.pose"), "default");
        // With the pose node came poses repeated to the audio's length.
        assert_eq!(setting(&check, POSES_REPEAT), "true");
        // The pose node's rate is the run's.
        let at_25 = checked(&text.replace(r#"["default", 24, false]"#, r#"["dance", 25, false]"#));
        assert_eq!(codes(&at_25), ["C110"]);
        assert_eq!(at_25.findings[0].subject.key.as_deref(), Some("EchoMimicV2PoseNode.tgt_fps"));
        assert_eq!(setting(&at_25, "fps"), "25");
        // A whole guidance leaves the types alike; duration's range and step decide.
        let whole = checked(&text.replace("2.5, 12, 3", "3, 12, 3"));
        assert_eq!(setting(&whole, "EchoMimicV2Node.steps"), "30");
        let old = checked(&ui(r#"{"id": 4, "type": "EchoMimicV2Node",
              "widgets_values": [30, 3, 12, 3, 24, false, true, 42, "fixed"]}"#));
        assert_eq!(setting(&old, "EchoMimicV2Node.steps"), "30");
        assert_eq!(setting(&old, "EchoMimicV2Node.fps"), "24");
        assert_eq!(setting(&old, POSES_REPEAT), "");
        // The day between: duration and the node's own frame rate.
        let between = checked(&ui(r#"{"id": 4, "type": "EchoMimicV2Node",
              "widgets_values": [96, 30, 2.5, 12, 3, 30, false, true, 42, "fixed"]}"#));
        assert_eq!(codes(&between), ["C110"]);
        assert_eq!(setting(&between, "EchoMimicV2Node.duration"), "96");
    }

    #[test]
    fn the_pose_folder_a_run_read_is_named() {
        let folder = |check: &WorkflowCheck| {
            check.settings.iter().find(|s| s.key == POSE_FOLDER).map(|s| (s.value.clone(), s.meaning.clone()))
        };
        let aifsh = |pose: &str| {
            checked(&ui(&format!(
                r#"{{"id": 4, "type": "EchoMimicV2Node", "widgets_values": [120, 30, 2.5, 12, 3, false, true, 42]}},
                {{"id": 5, "type": "EchoMimicV2PoseNode", "widgets_values": ["{pose}", 24, false]}}"#
            )))
        };
        assert_eq!(folder(&aifsh("default")).unwrap().0, "custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01");
        assert_eq!(folder(&aifsh("dance")).unwrap().0, "output/EchoMimicV2/DWPose/pose/dance");

        let smthemex = |mode: &str, pose_dir: &str, video: bool| {
            let link = if video { "7" } else { "null" };
            checked(&ui(&format!(
                r#"{{"id": 11, "type": "Echo_LoadModel", "widgets_values": ["vae", "lora", true, "{mode}", true,
                  false, false, false, "V2"]}},
                {{"id": 12, "type": "Echo_Predata", "inputs": [{{"name": "info", "type": "MODEL_INFO_E", "link": 3}},
                  {{"name": "video_images", "type": "IMAGE", "link": {link}}}],
                  "widgets_values": ["p", "n", "{pose_dir}", 768, 768, 24, 0.1, 0.8, 120, 16, false, false]}},
                {{"id": 13, "type": "Echo_Sampler", "widgets_values": [1, "fixed", 2.5, 30, 16000, 12, 3, false]}}"#
            )))
        };
        let demo = folder(&smthemex("pose_normal_dwpose", "pose_fight", false)).unwrap();
        assert_eq!(demo.0, "custom_nodes/ComfyUI_EchoMimic/echomimic_v2/assets/halfbody_demo/pose/fight");
        let own = folder(&smthemex("pose_acc", "walk_0412", true)).unwrap();
        assert_eq!(own.0, "input/tensorrt_lite/walk_0412");
        let drawn = folder(&smthemex("pose_normal_dwpose", "pose_01", true)).unwrap();
        assert_eq!(drawn.0, "input/tensorrt_lite/*");
        assert!(drawn.1.contains("Echo_Predata.video_images is linked"), "{drawn:?}");
        // The API form links by a list.
        let api = r#"{"12": {"class_type": "Echo_Predata", "inputs": {"pose_dir": "pose_01", "video_images": ["8", 0]}},
            "13": {"class_type": "Echo_Sampler", "inputs": {"cfg": 2.5, "steps": 30}}}"#;
        assert!(folder(&checked(api)).is_none(), "the mode is not known without the loader");
    }

    #[test]
    fn the_api_form_names_its_inputs_and_links_are_not_settings() {
        let text = r#"{"1": {"class_type": "EchoMimicV2Node", "inputs": {"refimg": ["2", 0], "steps": 30,
            "cfg": 1.0, "context_frames": 12, "context_overlap": 12, "fps": 24, "if_low_varm": false,
            "store_in_varm": true, "seed": 42}},
            "2": {"class_type": "LoadImage", "inputs": {"image": "0035_768.png"}}}"#;
        let check = checked(text);
        // cfg 1 on the normal weights, and overlap equal to the window.
        assert_eq!(codes(&check), ["C105", "C109"]);
        assert!(!check.settings.iter().any(|s| s.key == "EchoMimicV2Node.refimg"));
        assert!(check.settings.iter().any(|s| s.key == "LoadImage.image" && s.value == "0035_768.png"));
        assert_eq!(check.findings[1].subject.key.as_deref(), Some("EchoMimicV2Node.context_overlap"));
    }

    #[test]
    fn smthemex_s_nodes_are_read_across_their_layouts() {
        // The 7-widget loader of mid-2025, a stale value where a boolean
        // belongs; the accelerated pose mode with guidance 2.5.
        let text = ui(r#"{"id": 11, "type": "Echo_LoadModel",
              "widgets_values": ["sd-vae-ft-mse.safetensors", true, "pose_acc", false, "V3", "HighRAM_LowVRAM", "V2"]},
            {"id": 12, "type": "Echo_Predata", "widgets_values": ["a prompt", "a negative prompt", "pose_01",
              384, 570, 25, 0.1, 0.8, 251, 65, false, false]},
            {"id": 13, "type": "Echo_Sampler", "widgets_values": [638506672, "randomize", 2.5, 20, 16000, 12, 3, false]}"#);
        let check = checked(&text);
        assert_eq!(check.variant, Some(Variant::Acc));
        // cfg above 1 on the acc weights, height 570, fps 25.
        assert_eq!(codes(&check), ["C105", "C107", "C110"]);
        assert!(check.settings.iter().any(|s| s.key == "Echo_LoadModel.version" && s.value == "V2"));
        assert!(!check.settings.iter().any(|s| s.key == "Echo_LoadModel.teacache_offload"));
        assert!(check.settings.iter().any(|s| s.key == "windows" && s.value == "28"));
    }

    #[test]
    fn other_versions_and_other_workflows_are_not_judged() {
        let v3 = ui(r#"{"id": 1, "type": "Echo_LoadModel", "widgets_values": ["Wan2.1_VAE.pth", "lora.safetensors",
              true, "audio_drived", false, true, true, "HighRAM_LowVRAM", "V3"]},
            {"id": 2, "type": "Echo_Sampler", "widgets_values": [1, "fixed", 6.0, 4, 16000, 12, 3, false]}"#);
        let check = checked(&v3);
        assert!(check.findings.is_empty() && check.variant.is_none());
        assert!(check.settings.iter().any(|s| s.key == "checked" && s.meaning.contains("not EchoMimicV2")));

        let other = ui(r#"{"id": 3, "type": "KSampler", "widgets_values": [5, "fixed", 20, 8, "euler", "normal", 1]}"#);
        let check = checked(&other);
        assert!(check.findings.is_empty());
        assert!(check.settings.iter().any(|s| s.key == "echomimic_nodes" && s.meaning.contains("KSampler")));
        assert!(!names_echomimic_node(&other) && names_echomimic_node(&v3));
    }

    #[test]
    fn an_mmgp_profile_with_lowvram_quantizes_echomimicv3_s_transformer() {
        let loader = |values: &str| {
            ui(&format!(
                r#"{{"id": 1, "type": "Echo_LoadModel", "widgets_values": [{values}]}},
                {{"id": 2, "type": "Echo_Sampler", "widgets_values": [1, "fixed", 3.5, 25, 16000, 12, 3, false]}}"#
            ))
        };
        // The last: every widget is listed first as the node states it.
        let setting = |check: &WorkflowCheck, key: &str| check.settings.iter().rev().find(|s| s.key == key).cloned();
        // The loader since January 2026 (block_offload), as its README sets it for 12 GB.
        let check = checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", true, true, true, "LowRAM_LowVRAM", "V3""#));
        assert_eq!(codes(&check), ["C113"]);
        let f = &check.findings[0];
        assert_eq!(f.subject.key.as_deref(), Some("Echo_LoadModel.use_mmgp"));
        assert_eq!(f.evidence["models"], serde_json::json!(["transformer"]));
        assert_eq!(f.evidence["scheme"], "int8-channel");
        assert_eq!(f.evidence["quantizer"], "mmgp");
        assert_eq!(setting(&check, ECHOMIMIC_V3).map(|s| s.value), Some("V3".to_string()));
        assert!(check.variant.is_none());
        // August 2025's loader (no block_offload), the same choice.
        let august = checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", true, true, "HighRAM_LowVRAM", "V3""#));
        assert_eq!(codes(&august), ["C113"]);
        // lowvram off, or no mmgp: the transformer stays bfloat16.
        let off = checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", false, true, true, "LowRAM_LowVRAM", "V3""#));
        assert!(off.findings.is_empty());
        assert!(setting(&off, "Echo_LoadModel.use_mmgp").unwrap().meaning.contains("keeps the transformer unquantized"));
        let none = checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", true, true, true, "None", "V3""#));
        assert!(none.findings.is_empty() && setting(&none, ECHOMIMIC_V3).is_some());
        // The node's own example, whose values slid by one widget: lowvram false.
        let example = checked(&loader(
            r#""Wan2.1_VAE.pth", "lightx2v.safetensors", "audio_drived", "audio_drived", false, true, "HighRAM_LowVRAM", "V3""#,
        ));
        assert!(example.findings.is_empty());
        // The flash loader asks config.yaml for a flag it does not hold.
        let flash = checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", true, false, true, "LowRAM_LowVRAM", "V3_flash""#));
        assert_eq!(codes(&flash), ["C115"]);
        assert_eq!(flash.findings[0].subject.key.as_deref(), Some("Echo_LoadModel.use_mmgp"));
        assert!(flash.findings[0].message.contains("Missing key quantize_transformer"), "{}", flash.findings[0].message);
        assert_eq!(setting(&flash, ECHOMIMIC_V3).map(|s| s.value), Some("V3_flash".to_string()));
        let flash_offloads =
            checked(&loader(r#""Wan2.1_VAE.pth", "None", true, "audio_drived", true, false, true, "None", "V3_flash""#));
        assert!(flash_offloads.findings.is_empty());
        // EchoMimicV2 and V1 are not EchoMimicV3.
        let v2 = checked(&loader(r#""sd-vae-ft-mse.safetensors", "None", true, "audio_drived", true, true, true, "LowRAM_LowVRAM", "V2""#));
        assert!(setting(&v2, ECHOMIMIC_V3).is_none() && !codes(&v2).contains(&"C113"));
    }

    #[test]
    fn an_error_report_s_attached_workflow_is_found_with_its_line() {
        let report = "\n# ComfyUI Error Report\n## Error Details\n- **Node Type:** EchoMimicV2Node\n## Logs\n```\n\
            got prompt\n```\n## Attached Workflow\nPlease make sure that workflow does not contain any sensitive \
            information such as API keys or passwords.\n```\n{\"last_node_id\":1,\"nodes\":[],\"links\":[]}\n```\n\n\
            ## Additional Context\n";
        let (line, block) = attached_workflow(report).unwrap();
        assert_eq!(line, 12);
        assert_eq!(block, "{\"last_node_id\":1,\"nodes\":[],\"links\":[]}");
        assert_eq!(report.lines().nth(11), Some(block));
        let too_large = report.replace(block, "Workflow too large. Please manually upload the workflow from local file system.");
        assert!(attached_workflow(&too_large).is_none());
        assert!(attached_workflow("## Attached Workflow\n```\n").is_none());
        assert!(attached_workflow("no report\n").is_none());
    }

    #[test]
    fn values_that_fit_no_layout_are_said_so() {
        let text = ui(r#"{"id": 7, "type": "Echo_Sampler", "widgets_values": [1, 2, 3]}"#);
        let check = checked(&text);
        assert!(check.settings.iter().any(|s| s.key == "Echo_Sampler" && s.meaning.contains("fit no layout")));
    }
}
