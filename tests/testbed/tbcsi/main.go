// Command tbcsi is the test bed's own minimal CSI driver. It keeps every volume
// as a plain directory and every snapshot as a copy of that directory, so tests
// can write data straight into a volume and check what a restore produced.
//
// It serves the CSI Identity, Controller, GroupController and Node services on
// a UNIX socket. The Node service publishes a volume as a bind mount of its
// directory (no staging). With -kubelet-registration-path it also serves the
// kubelet plugin registration API on that socket (what node-driver-registrar
// does elsewhere), so the kubelet of `tests/testbed/up --node` finds the driver.
//
// Layout under -statedir:
//
//	volumes/<volume-id>/      volume contents
//	snapshots/<snapshot-id>/  frozen copy of the source volume
//	state.json                names, sizes, sources and groups
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

const (
	driverVersion   = "0.1.0"
	defaultCapacity = int64(1 << 30)
)

type volumeRec struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Capacity int64  `json:"capacity"`
	// Source is "snapshot:<id>", "volume:<id>" or empty.
	Source string `json:"source,omitempty"`
}

type snapshotRec struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVolume string `json:"sourceVolume"`
	Size         int64  `json:"size"`
	CreatedNanos int64  `json:"createdNanos"`
	GroupID      string `json:"groupId,omitempty"`
}

type groupRec struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	SourceVols   []string `json:"sourceVolumes"`
	SnapshotIDs  []string `json:"snapshotIds"`
	CreatedNanos int64    `json:"createdNanos"`
}

type state struct {
	Volumes   map[string]*volumeRec   `json:"volumes"`
	Snapshots map[string]*snapshotRec `json:"snapshots"`
	Groups    map[string]*groupRec    `json:"groups"`
}

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedGroupControllerServer
	csi.UnimplementedNodeServer

	name   string
	nodeID string
	dir    string

	mu sync.Mutex
	st state
}

func main() {
	endpoint := flag.String("endpoint", "", "CSI endpoint, unix:///path/to/csi.sock (required)")
	stateDir := flag.String("statedir", "", "directory holding volumes, snapshots and state.json (required)")
	driverName := flag.String("drivername", "hostpath.csi.k8s.io", "CSI driver name")
	nodeID := flag.String("nodeid", "tb-node", "node ID reported by NodeGetInfo")
	regPath := flag.String("kubelet-registration-path", "", "serve the kubelet plugin registration API on this UNIX socket (in the kubelet's plugins_registry directory)")
	flag.Parse()
	if *endpoint == "" || *stateDir == "" {
		fmt.Fprintln(os.Stderr, "tbcsi: -endpoint and -statedir are required")
		os.Exit(2)
	}
	sock, ok := strings.CutPrefix(*endpoint, "unix://")
	if !ok || sock == "" {
		log.Fatalf("endpoint must be unix:///path, got %q", *endpoint)
	}

	d := &driver{name: *driverName, nodeID: *nodeID, dir: *stateDir}
	if err := d.load(); err != nil {
		log.Fatalf("loading state: %v", err)
	}

	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Fatalf("removing stale socket: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatalf("listen %s: %v", sock, err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterGroupControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)

	var reg *grpc.Server
	if *regPath != "" {
		reg, err = serveRegistration(*regPath, d.name, sock)
		if err != nil {
			log.Fatalf("registration socket: %v", err)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		log.Printf("received %v, stopping", s)
		if reg != nil {
			reg.Stop()
			_ = os.Remove(*regPath)
		}
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			srv.Stop()
		}
	}()

	log.Printf("tbcsi %s: driver %s serving on %s, state in %s", driverVersion, d.name, sock, d.dir)
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
	_ = os.Remove(sock)
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		log.Printf("%s: error: %v", info.FullMethod, err)
	} else if !strings.HasSuffix(info.FullMethod, "/Probe") {
		log.Printf("%s: ok", info.FullMethod)
	}
	return resp, err
}

// ------------------------------------------------------------------ state

func (d *driver) volPath(id string) string  { return filepath.Join(d.dir, "volumes", id) }
func (d *driver) snapPath(id string) string { return filepath.Join(d.dir, "snapshots", id) }

func (d *driver) load() error {
	for _, sub := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o755); err != nil {
			return err
		}
	}
	d.st = state{Volumes: map[string]*volumeRec{}, Snapshots: map[string]*snapshotRec{}, Groups: map[string]*groupRec{}}
	b, err := os.ReadFile(filepath.Join(d.dir, "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &d.st); err != nil {
		return err
	}
	if d.st.Volumes == nil {
		d.st.Volumes = map[string]*volumeRec{}
	}
	if d.st.Snapshots == nil {
		d.st.Snapshots = map[string]*snapshotRec{}
	}
	if d.st.Groups == nil {
		d.st.Groups = map[string]*groupRec{}
	}
	return nil
}

// save writes state.json atomically. Callers hold d.mu.
func (d *driver) save() error {
	b, err := json.MarshalIndent(&d.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.dir, "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.dir, "state.json"))
}

func newID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// ------------------------------------------------------------------ identity

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: driverVersion}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	svc := func(t csi.PluginCapability_Service_Type) *csi.PluginCapability {
		return &csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: t}}}
	}
	// No VOLUME_ACCESSIBILITY_CONSTRAINTS: without kubelet there are no CSINode
	// objects, so a topology-aware driver could never be provisioned for.
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{
		svc(csi.PluginCapability_Service_CONTROLLER_SERVICE),
		svc(csi.PluginCapability_Service_GROUP_CONTROLLER_SERVICE),
	}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// ------------------------------------------------------------------ controller

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func checkCaps(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range caps {
		if c.GetBlock() != nil {
			return status.Error(codes.InvalidArgument, "block volumes are not supported")
		}
	}
	return nil
}

func (d *driver) volumeResponse(v *volumeRec) *csi.CreateVolumeResponse {
	vol := &csi.Volume{VolumeId: v.ID, CapacityBytes: v.Capacity, VolumeContext: map[string]string{"path": d.volPath(v.ID)}}
	if kind, id, ok := strings.Cut(v.Source, ":"); ok {
		switch kind {
		case "snapshot":
			vol.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: id}}}
		case "volume":
			vol.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: id}}}
		}
	}
	return &csi.CreateVolumeResponse{Volume: vol}
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name missing")
	}
	if err := checkCaps(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	capacity := req.GetCapacityRange().GetRequiredBytes()
	if capacity == 0 {
		capacity = defaultCapacity
	}
	if lim := req.GetCapacityRange().GetLimitBytes(); lim > 0 && capacity > lim {
		return nil, status.Errorf(codes.OutOfRange, "required %d > limit %d", capacity, lim)
	}
	source := ""
	var sourcePath string
	var sourceSize int64
	d.mu.Lock()
	defer d.mu.Unlock()
	if cs := req.GetVolumeContentSource(); cs != nil {
		if s := cs.GetSnapshot(); s != nil {
			snap, ok := d.st.Snapshots[s.GetSnapshotId()]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "snapshot %q not found", s.GetSnapshotId())
			}
			source, sourcePath, sourceSize = "snapshot:"+snap.ID, d.snapPath(snap.ID), snap.Size
		} else if v := cs.GetVolume(); v != nil {
			src, ok := d.st.Volumes[v.GetVolumeId()]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "volume %q not found", v.GetVolumeId())
			}
			source, sourcePath, sourceSize = "volume:"+src.ID, d.volPath(src.ID), src.Capacity
		}
		if sourceSize > capacity {
			return nil, status.Errorf(codes.OutOfRange, "source size %d exceeds requested capacity %d", sourceSize, capacity)
		}
	}
	for _, v := range d.st.Volumes {
		if v.Name == req.GetName() {
			if v.Capacity < capacity || v.Source != source {
				return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with different parameters", v.Name)
			}
			return d.volumeResponse(v), nil
		}
	}
	v := &volumeRec{ID: newID("vol-"), Name: req.GetName(), Capacity: capacity, Source: source}
	var err error
	if sourcePath != "" {
		err = copyTree(sourcePath, d.volPath(v.ID))
	} else {
		err = os.MkdirAll(d.volPath(v.ID), 0o777)
		if err == nil {
			err = os.Chmod(d.volPath(v.ID), 0o777)
		}
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "creating volume directory: %v", err)
	}
	d.st.Volumes[v.ID] = v
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return d.volumeResponse(v), nil
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Volumes[req.GetVolumeId()]; !ok {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if err := os.RemoveAll(d.volPath(req.GetVolumeId())); err != nil {
		return nil, status.Errorf(codes.Internal, "removing volume: %v", err)
	}
	delete(d.st.Volumes, req.GetVolumeId())
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	d.mu.Lock()
	_, ok := d.st.Volumes[req.GetVolumeId()]
	d.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %q not found", req.GetVolumeId())
	}
	if err := checkCaps(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func (d *driver) csiSnapshot(s *snapshotRec) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:      s.ID,
		SourceVolumeId:  s.SourceVolume,
		SizeBytes:       s.Size,
		CreationTime:    timestamppb.New(time.Unix(0, s.CreatedNanos)),
		ReadyToUse:      true,
		GroupSnapshotId: s.GroupID,
	}
}

// snapshotLocked copies volume volID into a new snapshot record. Callers hold d.mu
// and save the state afterwards.
func (d *driver) snapshotLocked(name, volID, groupID string, now time.Time) (*snapshotRec, error) {
	v, ok := d.st.Volumes[volID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "source volume %q not found", volID)
	}
	s := &snapshotRec{ID: newID("snap-"), Name: name, SourceVolume: volID, Size: v.Capacity, CreatedNanos: now.UnixNano(), GroupID: groupID}
	if err := copyTree(d.volPath(volID), d.snapPath(s.ID)); err != nil {
		return nil, status.Errorf(codes.Internal, "copying volume: %v", err)
	}
	d.st.Snapshots[s.ID] = s
	return s, nil
}

func (d *driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume id are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.st.Snapshots {
		if s.Name == req.GetName() && s.GroupID == "" {
			if s.SourceVolume != req.GetSourceVolumeId() {
				return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists for another volume", s.Name)
			}
			return &csi.CreateSnapshotResponse{Snapshot: d.csiSnapshot(s)}, nil
		}
	}
	s, err := d.snapshotLocked(req.GetName(), req.GetSourceVolumeId(), "", time.Now())
	if err != nil {
		return nil, err
	}
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.CreateSnapshotResponse{Snapshot: d.csiSnapshot(s)}, nil
}

func (d *driver) deleteSnapshotLocked(id string) error {
	if err := os.RemoveAll(d.snapPath(id)); err != nil {
		return status.Errorf(codes.Internal, "removing snapshot: %v", err)
	}
	delete(d.st.Snapshots, id)
	return nil
}

func (d *driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Snapshots[req.GetSnapshotId()]; !ok {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	if err := d.deleteSnapshotLocked(req.GetSnapshotId()); err != nil {
		return nil, err
	}
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var all []*snapshotRec
	for _, s := range d.st.Snapshots {
		if req.GetSnapshotId() != "" && s.ID != req.GetSnapshotId() {
			continue
		}
		if req.GetSourceVolumeId() != "" && s.SourceVolume != req.GetSourceVolumeId() {
			continue
		}
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	start := 0
	if t := req.GetStartingToken(); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(all) {
			return nil, status.Errorf(codes.Aborted, "invalid starting token %q", t)
		}
		start = n
	}
	end := len(all)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, s := range all[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: d.csiSnapshot(s)})
	}
	if end < len(all) {
		resp.NextToken = strconv.Itoa(end)
	}
	return resp, nil
}

// ------------------------------------------------------------------ group controller

func (d *driver) GroupControllerGetCapabilities(context.Context, *csi.GroupControllerGetCapabilitiesRequest) (*csi.GroupControllerGetCapabilitiesResponse, error) {
	return &csi.GroupControllerGetCapabilitiesResponse{Capabilities: []*csi.GroupControllerServiceCapability{{
		Type: &csi.GroupControllerServiceCapability_Rpc{Rpc: &csi.GroupControllerServiceCapability_RPC{
			Type: csi.GroupControllerServiceCapability_RPC_CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT,
		}},
	}}}, nil
}

func (d *driver) csiGroup(g *groupRec) *csi.VolumeGroupSnapshot {
	out := &csi.VolumeGroupSnapshot{
		GroupSnapshotId: g.ID,
		CreationTime:    timestamppb.New(time.Unix(0, g.CreatedNanos)),
		ReadyToUse:      true,
	}
	for _, id := range g.SnapshotIDs {
		if s, ok := d.st.Snapshots[id]; ok {
			out.Snapshots = append(out.Snapshots, d.csiSnapshot(s))
		}
	}
	return out
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

func (d *driver) CreateVolumeGroupSnapshot(_ context.Context, req *csi.CreateVolumeGroupSnapshotRequest) (*csi.CreateVolumeGroupSnapshotResponse, error) {
	if req.GetName() == "" || len(req.GetSourceVolumeIds()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "name and source volume ids are required")
	}
	vols := sortedCopy(req.GetSourceVolumeIds())
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.st.Groups {
		if g.Name == req.GetName() {
			if strings.Join(g.SourceVols, ",") != strings.Join(vols, ",") {
				return nil, status.Errorf(codes.AlreadyExists, "group snapshot %q exists with other volumes", g.Name)
			}
			return &csi.CreateVolumeGroupSnapshotResponse{GroupSnapshot: d.csiGroup(g)}, nil
		}
	}
	for _, id := range vols {
		if _, ok := d.st.Volumes[id]; !ok {
			return nil, status.Errorf(codes.NotFound, "source volume %q not found", id)
		}
	}
	now := time.Now()
	g := &groupRec{ID: newID("group-"), Name: req.GetName(), SourceVols: vols, CreatedNanos: now.UnixNano()}
	for _, id := range vols {
		s, err := d.snapshotLocked(req.GetName()+"/"+id, id, g.ID, now)
		if err != nil {
			for _, done := range g.SnapshotIDs {
				_ = d.deleteSnapshotLocked(done)
			}
			return nil, err
		}
		g.SnapshotIDs = append(g.SnapshotIDs, s.ID)
	}
	d.st.Groups[g.ID] = g
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.CreateVolumeGroupSnapshotResponse{GroupSnapshot: d.csiGroup(g)}, nil
}

func (d *driver) GetVolumeGroupSnapshot(_ context.Context, req *csi.GetVolumeGroupSnapshotRequest) (*csi.GetVolumeGroupSnapshotResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.st.Groups[req.GetGroupSnapshotId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "group snapshot %q not found", req.GetGroupSnapshotId())
	}
	if ids := req.GetSnapshotIds(); len(ids) > 0 && strings.Join(sortedCopy(ids), ",") != strings.Join(sortedCopy(g.SnapshotIDs), ",") {
		return nil, status.Errorf(codes.InvalidArgument, "snapshot ids do not match group snapshot %q", g.ID)
	}
	return &csi.GetVolumeGroupSnapshotResponse{GroupSnapshot: d.csiGroup(g)}, nil
}

func (d *driver) DeleteVolumeGroupSnapshot(_ context.Context, req *csi.DeleteVolumeGroupSnapshotRequest) (*csi.DeleteVolumeGroupSnapshotResponse, error) {
	if req.GetGroupSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "group snapshot id missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.st.Groups[req.GetGroupSnapshotId()]
	if !ok {
		return &csi.DeleteVolumeGroupSnapshotResponse{}, nil
	}
	for _, id := range append(append([]string(nil), g.SnapshotIDs...), req.GetSnapshotIds()...) {
		if s, ok := d.st.Snapshots[id]; ok && s.GroupID == g.ID {
			if err := d.deleteSnapshotLocked(id); err != nil {
				return nil, err
			}
		}
	}
	delete(d.st.Groups, g.ID)
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.DeleteVolumeGroupSnapshotResponse{}, nil
}

// ------------------------------------------------------------------ node

// isMountPoint reports whether path is a mount point (listed in /proc/self/mountinfo).
func isMountPoint(path string) (bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	clean := filepath.Clean(path)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountinfo(f[4]) == clean {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMountinfo decodes the octal escapes (\040 for a space, ...) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.nodeID}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodePublishVolume bind-mounts the volume directory onto the target path.
func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id and target_path are required")
	}
	if req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume_capability is required")
	}
	if err := checkCaps([]*csi.VolumeCapability{req.GetVolumeCapability()}); err != nil {
		return nil, err
	}
	if req.GetVolumeCapability().GetBlock() != nil {
		return nil, status.Error(codes.InvalidArgument, "block volumes are not supported")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Volumes[id]; !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", id)
	}
	src := d.volPath(id)
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "creating target %s: %v", target, err)
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading mounts: %v", err)
	}
	if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind mount %s on %s: %v", src, target, err)
	}
	if req.GetReadonly() {
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			_ = syscall.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "read-only remount of %s: %v", target, err)
		}
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts the target path and removes it.
func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if req.GetVolumeId() == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_id and target_path are required")
	}
	for {
		mounted, err := isMountPoint(target)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "reading mounts: %v", err)
		}
		if !mounted {
			break
		}
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.Internal, "removing %s: %v", target, err)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// ------------------------------------------------------------------ kubelet plugin registration

type registration struct {
	registerapi.UnimplementedRegistrationServer
	name, endpoint string
}

func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.name,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registration) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if st.GetPluginRegistered() {
		log.Printf("kubelet registered driver %s", r.name)
	} else {
		log.Printf("kubelet registration of driver %s failed: %s", r.name, st.GetError())
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// serveRegistration answers the kubelet's plugin watcher on path.
func serveRegistration(path, name, endpoint string) (*grpc.Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	registerapi.RegisterRegistrationServer(srv, &registration{name: name, endpoint: endpoint})
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Printf("registration server: %v", err)
		}
	}()
	log.Printf("kubelet registration API on %s", path)
	return srv, nil
}
