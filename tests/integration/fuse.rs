//! nook's FUSE overlay (`src/fuse/`) through the hidden `nook fuse-overlayfs` command, mounted
//! by the unprivileged user inside its keeper user namespace: the same operations run on it
//! and on kernel overlayfs (userxattr) over identical layers must leave the same visible tree
//! and the same upper directory (whiteouts, opaque xattr).

use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test(
            "fuse::same_tree_and_upper_as_kernel_overlay",
            same_as_kernel,
        ),
        support::test("fuse::id_mapping_without_chown", id_mapping),
    ]
}

/// One lower layer owned by disk ids 1000:1000 (and a file of 1005:1007) mounted with
/// `uidmapping=0:1000:100,gidmapping=0:1000:100`: the mount shows them as 0:0 / 5:7, an id
/// outside the map as the overflow id, and what root creates or chowns through it lands on
/// disk shifted back — the layer itself is never chowned.
const IDMAP_SCRIPT: &str = r#"
set -e
T=$1; mkdir -p $T/l $T/u $T/w $T/m
echo hi > $T/l/f; echo x > $T/l/g; echo o > $T/l/out
chown 1000:1000 $T/l $T/l/f; chown 1005:1007 $T/l/g; chown 3000:3000 $T/l/out
$NOOK fuse-overlayfs -o lowerdir=$T/l,upperdir=$T/u,workdir=$T/w,uidmapping=0:1000:100,gidmapping=0:1000:100 $T/m
echo "shown f $(stat -c %u:%g $T/m/f) g $(stat -c %u:%g $T/m/g) out $(stat -c %u:%g $T/m/out)"
echo new > $T/m/new; chown 5:7 $T/m/f
echo "disk new $(stat -c %u:%g $T/u/new) f $(stat -c %u:%g $T/u/f) lower-f $(stat -c %u:%g $T/l/f)"
echo "shown new $(stat -c %u:%g $T/m/new) f $(stat -c %u:%g $T/m/f)"
umount $T/m
"#;

fn id_mapping(rig: &Rig) {
    let user = rig.user().isolated();
    let base = user.home().join("fuse-idmap");
    let out = user
        .nook_cmd(&[
            "unshare",
            "sh",
            "-c",
            IDMAP_SCRIPT,
            "sh",
            &base.display().to_string(),
        ])
        .env("NOOK", user.nook_path())
        .run()
        .ok();
    for want in [
        "shown f 0:0 g 5:7 out 65534:65534\n",
        "disk new 1000:1000 f 1005:1007 lower-f 1000:1000\n",
        "shown new 0:0 f 5:7\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// Builds two identical layer sets under `$1`, mounts kernel overlay on one and nook's FUSE
/// overlay ($NOOK) on the other, runs the same operations and prints both results.
const SCRIPT: &str = r#"
set -e
base=$1
prep() {
  T=$1; mkdir -p $T/l1 $T/l2 $T/u $T/w $T/m
  echo low2 > $T/l2/a; mkdir -p $T/l2/d/sub $T/l2/keep; echo x > $T/l2/d/sub/f; echo y > $T/l2/d/g
  echo gone > $T/l2/gone; echo k > $T/l2/keep/k; truncate -s 1000000 $T/l2/sparse
  echo low1 > $T/l1/b; mknod $T/l1/gone c 0 0; mkdir $T/l1/d; echo h > $T/l1/d/h
}
ops() {
  cd $1
  echo more >> a; chmod 600 b; rm -f gone; rm d/g; mkdir newd; echo n > newd/n
  rmdir d/sub 2>/dev/null && echo rmdir-ok || echo rmdir-refused
  rm -rf d/sub; mkdir d/sub; touch d/sub/again
  ln -s a sl; ln a hl; mkfifo ff; mv b b2; mv d/h d/h2; echo z > d/z; mv newd newd2
  echo tail >> sparse; chown 1:2 keep/k; touch -d @1000000 keep
  test ! -e gone && echo gone-hidden
  cd /
}
show() {
  T=$1
  echo "== merged"; (cd $T/m && find . -printf '%p %M %n %U %G %s %l\n' | LC_ALL=C sort)
  echo "== upper"; (cd $T/u && find . ! -name . -printf '%p %M %U %G %s %l\n' | LC_ALL=C sort)
  echo "== opaque"; for d in $(cd $T/u && find . -type d | LC_ALL=C sort); do
    getfattr --only-values -n user.overlay.opaque $T/u/$d 2>/dev/null && echo " $d" || true; done
  echo "== sparse blocks small: $(test $(stat -c %b $T/u/sparse) -lt 100 && echo yes || echo no)"
}
prep $base/k; prep $base/z
mount -t overlay overlay -o lowerdir=$base/k/l1:$base/k/l2,upperdir=$base/k/u,workdir=$base/k/w,userxattr $base/k/m
$NOOK fuse-overlayfs -o lowerdir=$base/z/l1:$base/z/l2,upperdir=$base/z/u,workdir=$base/z/w $base/z/m
grep -q "$base/z/m fuse" /proc/self/mounts && echo fuse-mounted
ops $base/k/m > $base/k.ops 2>&1; ops $base/z/m > $base/z.ops 2>&1
show $base/k > $base/k.out; show $base/z > $base/z.out
umount $base/k/m; umount $base/z/m
echo "--- kernel"; cat $base/k.ops $base/k.out; echo "--- fuse"; cat $base/z.ops $base/z.out
"#;

fn same_as_kernel(rig: &Rig) {
    let user = rig.user().isolated();
    let base = user.home().join("fuse-diff");
    let out = user
        .nook_cmd(&[
            "unshare",
            "sh",
            "-c",
            SCRIPT,
            "sh",
            &base.display().to_string(),
        ])
        .env("NOOK", user.nook_path())
        .run()
        .ok();
    assert!(
        out.contains("fuse-mounted\n"),
        "the FUSE overlay did not mount:\n{out}"
    );
    let (kernel, fuse) = out
        .split_once("--- fuse\n")
        .unwrap_or_else(|| panic!("no output from the script:\n{out}"));
    let kernel = kernel.split_once("--- kernel\n").map_or(kernel, |(_, k)| k);
    assert_eq!(
        kernel, fuse,
        "kernel overlay (left) and nook's FUSE overlay (right) differ"
    );
    for want in [
        "gone-hidden",
        "rmdir-refused",
        "./newd2/n",
        "./d/g c---------",
        " ./d/sub",
    ] {
        assert!(fuse.contains(want), "missing {want:?} in:\n{fuse}");
    }
}
