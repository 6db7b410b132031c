# nook as the lingering user in a real systemd + cgroup v2 guest: info, an image imported from
# the tar the host made (busybox fixture), and a container run from a shell and from a user unit.
image=localhost/vm-busybox:1
tar=$NOOK_VM_JOB/images/busybox.tar

check nook-binary-shipped test -x /usr/local/bin/nook
check_out nook-info-cgroup-v2 'CgroupsVersion: v2' as_user nook info
check_out nook-info-rootless 'Rootless: true' as_user nook info
check nook-import-busybox as_user nook import -q "$tar" "$image"
check_out nook-images-lists-it 'vm-busybox' as_user nook images
check nook-run-rm-true as_user nook run --rm "$image" true
check_out nook-run-echo '^hello from the guest$' as_user nook run --rm "$image" echo hello from the guest
check_out nook-run-exit-status '^status=3$' as_user sh -c "nook run --rm $image sh -c 'exit 3'; echo status=\$?"
check_out nook-run-in-user-unit '^in a unit$' in_user_unit nook run --rm "$image" echo in a unit
check_out nook-rm-leaves-no-container '^$' as_user nook ps -a -q
