//! Module-name globs: `*` matches any run of characters (dots included),
//! `?` exactly one. Matching is linear in practice and never recursive.

/// Whether `name` matches `pattern` in full.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was and which name position it currently swallows up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stars_cross_dots_and_question_marks_take_one() {
        assert!(glob_match("*mask*", "unet.mid_block.attentions.0.attn_mask"));
        assert!(glob_match("unet.*.to_q", "unet.down_blocks.0.attentions.1.to_q"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("*mask", "mask_proj"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "x"));
    }

    proptest! {
        #[test]
        fn a_name_matches_itself_and_star(name in "[a-z0-9._]{0,40}") {
            prop_assert!(glob_match(&name, &name));
            prop_assert!(glob_match("*", &name));
            let wrapped = format!("*{}*", name.get(1..).unwrap_or(""));
            prop_assert!(glob_match(&wrapped, &name));
        }
    }
}
