//! `--output` pointing at a device writes into it instead of replacing it.

#[cfg(unix)]
#[test]
fn output_to_dev_null_leaves_the_device_in_place() {
    use std::os::unix::fs::FileTypeExt;

    assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .args(["rules", "--format", "json", "-o", "/dev/null"])
        .assert()
        .success();
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device(), "/dev/null is no longer a device");
    assert!(!std::path::Path::new("/dev/.null.nanscope-tmp").exists());
}
