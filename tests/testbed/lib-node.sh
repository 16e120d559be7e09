# Node part of the test bed (tests/testbed/up --node, tests/testbed/down): containerd,
# kube-scheduler, kubelet, the CSI node plugin registration, local images.
# Sourced by up and down, not executed.
# shellcheck shell=bash

# The node registers under the name 127.0.0.1: the kubelet refuses a loopback
# --node-ip, but takes an IP given as --hostname-override as the node's
# InternalIP and Hostname, so kube-apiserver reaches it on 127.0.0.1 and the
# Node object carries no other address.
TB_NODE_NAME=127.0.0.1
TB_IMAGE_PAUSE=astra.local/pause:tb
TB_IMAGE_BUSYBOX=astra.local/busybox:tb
TB_IMAGE_SQLITE=astra.local/sqlite:tb
# TEST-NET-2 (RFC 5737): pod addresses on tbcni's veth pair that leads nowhere.
TB_POD_SUBNET=198.51.100.0/24
# Global state shared by all node clusters of this machine (sysctls the kubelet needs).
TB_NODE_RUN=/run/libastra-testbed

# Sysctls the kubelet insists on (pkg/kubelet/cm setupKernelTunables). The kubelet
# runs with protectKernelDefaults: true, so it checks them; up --node sets them
# and keeps the previous values, down restores them when the last node stops.
TB_NODE_SYSCTLS="vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000"

# ------------------------------------------------------------------ image root file systems
# tb_rootfs_base DIR : busybox with its applet links, /etc/passwd and /etc/group, /tmp.
tb_rootfs_base() {
    local r=$1 a
    mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/proc" "$r/sys" "$r/dev" "$r/var/tmp" "$r/usr/bin" "$r/data"
    chmod 1777 "$r/tmp" "$r/var/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}
# tb_copy_with_libs FILE ROOT : copy an executable and the shared libraries it loads.
tb_copy_with_libs() {
    local f=$1 r=$2 lib
    install -D -m 0755 "$f" "$r$f"
    for lib in $(ldd "$f" | awk '/=> \//{print $3} /^[[:space:]]*\/.*ld-linux/{print $1}'); do
        install -D -m 0644 "$(readlink -f "$lib")" "$r$lib"
    done
    chmod 0755 "$r"/lib64/ld-linux-* 2>/dev/null || true
}
# tb_node_dir DIR : directory holding the node's state (containerd, kubelet, CNI).
# Under DIR unless that makes UNIX socket paths too long.
tb_node_dir() {
    if [ -f "$1/.nodedir" ]; then cat "$1/.nodedir"; else printf '%s/node\n' "$1"; fi
}

# tb_node_cgroup_id DIR : the kubelet's cgroup root below each hierarchy (one per cluster).
tb_node_cgroup_id() { printf 'libastra-tb/%s' "$(printf '%s' "$1" | sha256sum | cut -c1-12)"; }

tb_node_cgroup_dirs() { # every cgroup hierarchy mounted under /sys/fs/cgroup
    local d
    for d in /sys/fs/cgroup/*/; do
        [ -f "$d/cgroup.procs" ] && printf '%s\n' "${d%/}"
    done
}

tb_node_sysctl_set() { # tb_node_sysctl_set DIR
    local kv k v reg
    mkdir -p "$TB_NODE_RUN/nodes"
    reg=$(printf '%s' "$1" | sha256sum | cut -c1-12)
    (
        flock 8
        if [ ! -f "$TB_NODE_RUN/sysctl.saved" ]; then
            for kv in $TB_NODE_SYSCTLS; do
                k=${kv%%=*}
                printf '%s=%s\n' "$k" "$(cat "/proc/sys/$k")"
            done >"$TB_NODE_RUN/sysctl.saved.tmp"
            mv "$TB_NODE_RUN/sysctl.saved.tmp" "$TB_NODE_RUN/sysctl.saved"
        fi
        printf '%s\n' "$1" >"$TB_NODE_RUN/nodes/$reg"
        for kv in $TB_NODE_SYSCTLS; do
            k=${kv%%=*} v=${kv#*=}
            [ "$(cat "/proc/sys/$k")" = "$v" ] || printf '%s\n' "$v" >"/proc/sys/$k"
        done
    ) 8>"$TB_NODE_RUN/.lock"
}

tb_node_sysctl_restore() { # tb_node_sysctl_restore DIR
    local reg kv
    [ -d "$TB_NODE_RUN/nodes" ] || return 0
    reg=$(printf '%s' "$1" | sha256sum | cut -c1-12)
    (
        flock 8
        rm -f "$TB_NODE_RUN/nodes/$reg"
        if [ -z "$(ls -A "$TB_NODE_RUN/nodes")" ] && [ -f "$TB_NODE_RUN/sysctl.saved" ]; then
            while IFS= read -r kv; do
                printf '%s\n' "${kv#*=}" >"/proc/sys/${kv%%=*}" || true
            done <"$TB_NODE_RUN/sysctl.saved"
            rm -f "$TB_NODE_RUN/sysctl.saved"
        fi
    ) 8>"$TB_NODE_RUN/.lock"
}

# tb_node_shim_pids SOCK : PIDs of the containerd shims serving the containerd on SOCK.
tb_node_shim_pids() {
    local sock=$1 p argv0
    for p in /proc/[0-9]*; do
        argv0=$({ tr '\0' '\n' <"$p/cmdline" | head -n 1; } 2>/dev/null) || continue
        [ "$(basename -- "${argv0:-x}")" = containerd-shim-runc-v2 ] || continue
        { tr '\0' '\n' <"$p/cmdline" | grep -qxF -- "$sock"; } 2>/dev/null && printf '%s\n' "${p#/proc/}"
    done
    return 0
}

# tb_node_down DIR NODE_BIN : stop the node of cluster DIR and remove its state
# (kubelet, containers, containerd, shims, mounts, cgroups, sysctl registration).
tb_node_down() {
    local dir=$1 nbin=$2 nd sock pids p m cg id
    nd=$(tb_node_dir "$dir")
    sock=$nd/containerd/containerd.sock
    tb_stop_pidfile "$dir/pids/kubelet.pid"
    tb_stop_pidfile "$dir/pids/kube-scheduler.pid"
    # Kill every container (pods' processes) while containerd still runs.
    if [ -S "$sock" ] && [ -x "$nbin/ctr" ]; then
        local ctr=("$nbin/ctr" --address "$sock" --timeout 10s -n k8s.io) ids
        ids=$("${ctr[@]}" tasks ls -q 2>/dev/null || true)
        for id in $ids; do "${ctr[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
        # containerd's CRI plugin deletes tasks that exited; delete what remains.
        for _ in $(seq 1 25); do
            ids=$("${ctr[@]}" tasks ls -q 2>/dev/null || true)
            [ -n "$ids" ] || break
            sleep 0.2
        done
        for id in $ids; do "${ctr[@]}" tasks delete --force "$id" >/dev/null 2>&1 || true; done
    fi
    tb_stop_pidfile "$dir/pids/containerd.pid"
    if [ -d "$nd" ]; then
        pids=$(tb_node_shim_pids "$sock")
        for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
        # Unmount everything below the node directory, deepest first.
        for _ in 1 2 3; do
            m=$(awk -v d="$nd/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
            [ -n "$m" ] || break
            while IFS= read -r p; do umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true; done <<<"$m"
        done
    fi
    # Processes still in the cluster's cgroups (containers whose containerd or
    # shim died early) are killed; then the cgroups go, deepest first.
    cg=$(tb_node_cgroup_id "$dir")
    for _ in 1 2 3 4 5; do
        pids=$(for m in $(tb_node_cgroup_dirs); do
            [ -d "$m/$cg" ] && find "$m/$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
        done | sort -u)
        [ -n "$pids" ] || break
        for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
        sleep 0.2
    done
    for m in $(tb_node_cgroup_dirs); do
        [ -d "$m/$cg" ] || continue
        find "$m/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$m/${cg%%/*}" 2>/dev/null || true
    done
    # The kubelet links every container log into /var/log/containers (a fixed path).
    for p in /var/log/containers/*.log; do
        [ -L "$p" ] || continue
        case "$(readlink "$p")" in "$nd/pod-logs/"*) rm -f "$p" ;; esac
    done
    tb_node_sysctl_restore "$dir"
    if [ -f "$dir/.nodedir" ]; then rm -rf "$(cat "$dir/.nodedir")"; fi
}

# tb_node_prepare : choose the node directory and write the node's certificates.
# Uses up's variables DIR, P, NAME and its signed() helper.
tb_node_prepare() {
    if [ ${#DIR} -gt 40 ]; then
        NODE_DIR=$(mktemp -d /tmp/tbn.XXXXXX)
        printf '%s\n' "$NODE_DIR" >"$DIR/.nodedir"
    else
        NODE_DIR=$DIR/node
    fi
    mkdir -p "$NODE_DIR/containerd" "$NODE_DIR/kubelet/plugins_registry" "$NODE_DIR/cni/net.d" \
        "$NODE_DIR/cni/ipam" "$NODE_DIR/pod-logs"
    printf '%s\n' "$TB_NODE_BIN" >"$DIR/.nodebin"
    CSOCK=$NODE_DIR/containerd/containerd.sock
    REG_SOCK=$NODE_DIR/kubelet/plugins_registry/$DRIVER-reg.sock
    signed kubelet-server "/CN=$TB_NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
    signed kubelet "/O=system:nodes/CN=system:node:$TB_NODE_NAME" "$CLIENT_EXT"
    signed apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$CLIENT_EXT"
    chmod 600 "$P"/*.key
}

# start_node NAME BINARY ARGS... : like up's start, for a binary of the node cache.
start_node() {
    local name=$1 bin=$2; shift 2
    setsid "$TB_NODE_BIN/$bin" "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
    echo $! >"$DIR/pids/$name.pid"
    STARTED+=("$name")
}

# tb_node_up : start containerd, import the images, start kube-scheduler and the
# kubelet, wait until the node is Ready and the CSI driver registered on it.
# Uses up's helpers start/wait_for/fail/lap and variables.
tb_node_up() {
    local cg m kport hport img
    tb_node_sysctl_set "$DIR"
    cg=$(tb_node_cgroup_id "$DIR")
    for m in $(tb_node_cgroup_dirs); do mkdir -p "$m/$cg"; done

    # ---------------------------------------------------------------- containerd
    cat >"$NODE_DIR/cni/net.d/10-tb.conflist" <<EOC
{
  "cniVersion": "1.0.0",
  "name": "tb-isolated",
  "plugins": [
    {
      "type": "tbcni",
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$TB_POD_SUBNET"}]], "dataDir": "$NODE_DIR/cni/ipam"}
    }
  ]
}
EOC
    cat >"$NODE_DIR/containerd/config.toml" <<EOC
version = 3
root = '$NODE_DIR/containerd/root'
state = '$NODE_DIR/containerd/state'
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing']

[grpc]
  address = '$CSOCK'

[ttrpc]
  address = '$CSOCK.ttrpc'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$TB_IMAGE_PAUSE'
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = true
    enable_cdi = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '$(command -v runc)'
          Root = '$NODE_DIR/containerd/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$TB_NODE_CACHE/cni-bin']
      conf_dir = '$NODE_DIR/cni/net.d'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
    enable_tls_streaming = false
  [plugins.'io.containerd.internal.v1.opt']
    path = '$NODE_DIR/containerd/opt'
EOC
    PATH=$TB_NODE_BIN:$PATH start_node containerd containerd --config "$NODE_DIR/containerd/config.toml" --log-level info
    local ctr=("$TB_NODE_BIN/ctr" --address "$CSOCK" -n k8s.io)
    wait_for containerd 30 "${ctr[@]}" version
    for img in pause busybox sqlite; do
        "${ctr[@]}" images import --local "$TB_NODE_CACHE/images/$img.tar" >>"$DIR/logs/images.log" 2>&1 ||
            "${ctr[@]}" images import "$TB_NODE_CACHE/images/$img.tar" >>"$DIR/logs/images.log" 2>&1 ||
            fail images "importing $img.tar into containerd failed"
    done
    lap "containerd + images"

    # ---------------------------------------------------------------- kube-scheduler
    cat >"$NODE_DIR/scheduler.yaml" <<EOC
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $CKC
  qps: 100
  burst: 200
leaderElection:
  leaderElect: false
EOC
    start_node kube-scheduler kube-scheduler --config="$NODE_DIR/scheduler.yaml" --secure-port=0 --v=1

    # The driver needs no attach step (no external-attacher in the test bed).
    cat >"$NODE_DIR/csidriver.yaml" <<EOC
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: $DRIVER
spec:
  attachRequired: false
  podInfoOnMount: false
  volumeLifecycleModes: [Persistent]
  fsGroupPolicy: File
EOC
    "${KC[@]}" apply -f "$NODE_DIR/csidriver.yaml" >"$DIR/logs/csidriver.log" 2>&1 || fail csidriver "creating the CSIDriver object failed"

    # ---------------------------------------------------------------- kubelet
    tb_free_port kport
    tb_free_port hport
    KUBELET_PORT=$kport
    cat >"$NODE_DIR/kubelet.kubeconfig" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: $NAME
  cluster: {server: "$API_URL", certificate-authority: "$P/ca.crt"}
users:
- name: kubelet
  user: {client-certificate: "$P/kubelet.crt", client-key: "$P/kubelet.key"}
contexts:
- name: $NAME
  context: {cluster: $NAME, user: kubelet}
current-context: $NAME
EOC
    chmod 600 "$NODE_DIR/kubelet.kubeconfig"
    cat >"$NODE_DIR/kubelet.yaml" <<EOC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hport
tlsCertFile: $P/kubelet-server.crt
tlsPrivateKeyFile: $P/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CSOCK
imageServiceEndpoint: unix://$CSOCK
cgroupDriver: cgroupfs
cgroupRoot: /$cg
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: true
podLogsDir: $NODE_DIR/pod-logs
resolvConf: /etc/resolv.conf
maxPods: 110
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
syncFrequency: 10s
nodeStatusReportFrequency: 10s
fileCheckFrequency: 10s
shutdownGracePeriod: 0s
oomScoreAdj: 0
EOC
    PATH=$TB_NODE_BIN:$PATH start_node kubelet kubelet --config="$NODE_DIR/kubelet.yaml" \
        --kubeconfig="$NODE_DIR/kubelet.kubeconfig" --root-dir="$NODE_DIR/kubelet" \
        --hostname-override="$TB_NODE_NAME" --v=2
    wait_for kubelet 120 tb_node_ready
    lap "kubelet (node Ready)"
    wait_for kubelet 60 tb_node_csi_registered
    lap "CSI node plugin"
}

tb_node_ready() {
    [ "$("${KC[@]}" get node "$TB_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
tb_node_csi_registered() {
    "${KC[@]}" get csinode "$TB_NODE_NAME" -o 'jsonpath={.spec.drivers[*].name}' 2>/dev/null | grep -qw "$DRIVER"
}
