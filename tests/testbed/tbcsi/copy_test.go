package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/sys/unix"
)

// posixACL encodes an access ACL the way the kernel stores it in
// system.posix_acl_access: version 2, then (tag, perm, id) entries.
func posixACL(uid uint32) []byte {
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	put(uint32(2))
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{
		{0x01, 6, 0xffffffff}, // user::rw-
		{0x02, 4, uid},        // user:uid:r--
		{0x04, 4, 0xffffffff}, // group::r--
		{0x10, 4, 0xffffffff}, // mask::r--
		{0x20, 0, 0xffffffff}, // other::---
	} {
		put(e.tag)
		put(e.perm)
		put(e.id)
	}
	return b.Bytes()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func setTimes(t *testing.T, p string, atime, mtime int64) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
}

// richTree fills dir with what a storage snapshot must keep.
func richTree(t *testing.T, dir string) {
	root := os.Getuid() == 0
	uid, gid := os.Getuid(), os.Getgid()
	if root {
		uid, gid = 1234, 5678
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	must(t, os.MkdirAll(p("sub/deeper"), 0o755))
	must(t, os.WriteFile(p("sub/plain"), []byte("hello\n"), 0o640))
	must(t, os.WriteFile(p("linked"), []byte("one inode, three names\n"), 0o600))
	must(t, os.Link(p("linked"), p("sub/linked-2")))
	must(t, os.Link(p("linked"), p("sub/deeper/linked-3")))
	// sparse: 8 MiB hole, 4 KiB of data, 8 MiB hole, 1 byte, trailing hole
	f, err := os.Create(p("sparse"))
	must(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{'x'}, 4096), 8<<20)
	must(t, err)
	_, err = f.WriteAt([]byte{'y'}, 16<<20+4096)
	must(t, err)
	must(t, f.Truncate(32<<20))
	must(t, f.Close())
	must(t, os.WriteFile(p("empty"), nil, 0o644))
	must(t, os.Symlink("sub/plain", p("link")))
	must(t, os.Symlink("/nowhere/dangling", p("sub/dangling")))
	must(t, unix.Mkfifo(p("fifo"), 0o620))
	if root {
		must(t, unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	must(t, unix.Lsetxattr(p("sub/plain"), "user.checksum", []byte("abc\x00def"), 0))
	must(t, unix.Lsetxattr(p("sub"), "user.dir", []byte("on a directory"), 0))
	must(t, unix.Lsetxattr(p("linked"), "user.shared", []byte("by all names"), 0))
	must(t, unix.Lsetxattr(p("sub/plain"), "system.posix_acl_access", posixACL(4321), 0))
	for _, n := range []string{"sub/plain", "linked", "sparse", "link", "fifo", "sub/deeper", "sub"} {
		must(t, unix.Lchown(p(n), uid, gid+len(n)))
	}
	must(t, os.Chmod(p("sub/deeper"), 0o3751)) // setgid + sticky
	must(t, os.Chmod(p("sparse"), 0o4755))     // setuid, after chown
	var when int64 = 1_500_000_000_123_456_789
	for i, n := range []string{"sub/plain", "linked", "sparse", "empty", "link", "sub/dangling", "fifo", "sub/deeper", "sub", "."} {
		setTimes(t, p(n), when+int64(i)*1_000_000_007, when-int64(i)*3_000_000_011)
	}
}

type entry struct {
	mode, uid, gid uint32
	size           int64
	atime, mtime   unix.Timespec
	rdev           uint64
	nlink          uint64
	blocks         int64
	target         string
	data           string // sha256 of the contents
	xattrs         map[string]string
	linkGroup      string // first name (sorted) of the names sharing this inode
}

func scan(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	inodes := map[uint64][]string{}
	var names []string
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names = append(names, rel)
		return nil
	}))
	sort.Strings(names)
	for _, rel := range names {
		p := filepath.Join(dir, rel)
		// contents first, then lstat: reading may move an atime
		var data []byte
		var target string
		var pre unix.Stat_t
		must(t, unix.Lstat(p, &pre))
		switch pre.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOATIME, 0)
			if err != nil {
				f, err = os.Open(p)
			}
			must(t, err)
			data, err = io.ReadAll(f)
			f.Close()
			must(t, err)
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			must(t, err)
			target = l
		}
		var st unix.Stat_t
		must(t, unix.Lstat(p, &st))
		sum := sha256.Sum256(data)
		e := entry{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, rdev: st.Rdev,
			nlink: uint64(st.Nlink), blocks: st.Blocks, xattrs: map[string]string{},
			target: target, data: hex.EncodeToString(sum[:])}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR: // its atime moves when it is read (this scan)
		case unix.S_IFLNK: // readlink moved it: the time before
			e.atime = pre.Atim
		default:
			e.atime = st.Atim
		}
		e.mtime = st.Mtim
		buf := make([]byte, 64<<10)
		n, err := unix.Llistxattr(p, buf)
		must(t, err)
		for _, x := range bytes.Split(buf[:n], []byte{0}) {
			if len(x) == 0 {
				continue
			}
			v := make([]byte, 64<<10)
			m, err := unix.Lgetxattr(p, string(x), v)
			must(t, err)
			e.xattrs[string(x)] = string(v[:m])
		}
		inodes[st.Ino] = append(inodes[st.Ino], rel)
		out[rel] = e
	}
	for _, group := range inodes {
		for _, n := range group {
			e := out[n]
			e.linkGroup = group[0]
			out[n] = e
		}
	}
	return out
}

func TestCopyTreeIsFaithful(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.Mkdir(src, 0o751))
	richTree(t, src)
	before := scan(t, src)
	// the scan's readlink moved the links' atimes: put them back
	for name, e := range before {
		if e.mode&unix.S_IFMT == unix.S_IFLNK {
			setTimes(t, filepath.Join(src, name), unix.TimespecToNsec(e.atime), unix.TimespecToNsec(e.mtime))
		}
	}
	must(t, copyTree(src, dst))
	after := scan(t, dst)
	if _, err := os.Stat(dst + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the temporary copy %s.partial was left behind", dst)
	}
	if len(before) != len(after) {
		t.Errorf("source has %d entries, copy %d", len(before), len(after))
	}
	for name, want := range before {
		got, ok := after[name]
		if !ok {
			t.Errorf("%s: missing from the copy", name)
			continue
		}
		blocksWant, blocksGot := want.blocks, got.blocks
		want.blocks, got.blocks = 0, 0
		if fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", got) {
			t.Errorf("%s differs:\n source %+v\n copy   %+v", name, want, got)
		}
		if want.mode&unix.S_IFMT == unix.S_IFREG && blocksGot > blocksWant {
			t.Errorf("%s: the copy uses %d blocks, the source %d (holes filled)", name, blocksGot, blocksWant)
		}
	}
	if e := after["sparse"]; e.blocks*512 >= 1<<20 {
		t.Errorf("sparse: %d bytes allocated for 4097 bytes of data", e.blocks*512)
	}
	if e := after["sub/deeper/linked-3"]; e.nlink != 3 || e.linkGroup != "linked" {
		t.Errorf("hard links not kept: %+v", e)
	}
}

// A copy that fails part way leaves neither dst nor its temporary sibling.
func TestCopyTreeFailureLeavesNothing(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644))
	must(t, os.Mkdir(dst+".partial", 0o755)) // stale: removed first
	must(t, os.WriteFile(filepath.Join(dst+".partial", "stale"), nil, 0o644))
	must(t, copyTree(src, dst))
	if _, err := os.Stat(filepath.Join(dst, "stale")); !os.IsNotExist(err) {
		t.Errorf("a stale partial copy leaked into the result")
	}
	if err := copyTree(filepath.Join(base, "missing"), filepath.Join(base, "out")); err == nil {
		t.Fatal("copying a missing tree succeeded")
	}
	for _, p := range []string{"out", "out.partial"} {
		if _, err := os.Lstat(filepath.Join(base, p)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after a failed copy", p)
		}
	}
}
