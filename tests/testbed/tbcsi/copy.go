package main

// Faithful copies of a volume directory, as a storage snapshot keeps it:
// hard links stay links (one inode per group of names), sparse files keep
// their holes, and every entry keeps its extended attributes (POSIX ACLs
// included: they are the system.posix_acl_* attributes), owner, group,
// mode bits (setuid, setgid and sticky too) and access and modification
// times. Symbolic links keep their owner and times (lchown, utimensat with
// AT_SYMLINK_NOFOLLOW); FIFOs, sockets and device nodes are recreated with
// mknod. Only ctimes and inode numbers differ, as they must.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

type inodeKey struct {
	dev uint64
	ino uint64
}

type copier struct {
	src, dst string
	links    map[inodeKey]string // first copied name of a multiply-linked inode
	dirs     []dirMeta           // directories, metadata set after their contents
	buf      []byte
}

type dirMeta struct {
	src, dst string
	st       unix.Stat_t
}

// copyTree copies directory src to dst (which must not exist) through a
// temporary sibling, so a half-copied tree is never visible under dst.
func copyTree(src, dst string) error {
	tmp := dst + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	c := &copier{src: src, dst: tmp, links: map[inodeKey]string{}, buf: make([]byte, 1<<20)}
	err := filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return c.entry(p, filepath.Join(tmp, rel))
	})
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err == nil {
		// children before parents; the root (renamed) last
		for i := len(c.dirs) - 1; i >= 0; i-- {
			d := c.dirs[i]
			path := d.dst
			if path == tmp {
				path = dst
			} else {
				path = filepath.Join(dst, strings.TrimPrefix(path, tmp+"/"))
			}
			if err = setMeta(d.src, path, &d.st); err != nil {
				break
			}
		}
		if err != nil {
			_ = os.RemoveAll(dst)
		}
		return err
	}
	_ = os.RemoveAll(tmp)
	return err
}

func (c *copier) entry(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: src, Err: err}
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFDIR {
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		c.dirs = append(c.dirs, dirMeta{src: src, dst: dst, st: st})
		return nil
	}
	key := inodeKey{dev: uint64(st.Dev), ino: st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return os.Link(first, dst)
		}
		c.links[key] = dst
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		err = c.copyData(src, dst, &st)
	case unix.S_IFLNK:
		var target string
		if target, err = os.Readlink(src); err == nil {
			err = os.Symlink(target, dst)
		}
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
		err = unix.Mknod(dst, st.Mode, int(st.Rdev))
		if err != nil {
			err = &fs.PathError{Op: "mknod", Path: dst, Err: err}
		}
	default:
		err = fmt.Errorf("%s: unknown file type %#o", src, typ)
	}
	if err != nil {
		return err
	}
	return setMeta(src, dst, &st)
}

// copyData copies a regular file's bytes, leaving holes where the source
// has them (SEEK_DATA/SEEK_HOLE) and the same length.
func (c *copier) copyData(src, dst string, st *unix.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		in, err = os.Open(src)
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = c.copyRanges(in, out, st.Size)
	if err == nil {
		err = out.Truncate(st.Size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *copier) copyRanges(in, out *os.File, size int64) error {
	fd := int(in.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole is left
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			data = off // no hole support: everything is data
		} else if err != nil {
			return fmt.Errorf("%s: seek data: %w", in.Name(), err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			hole = size
		}
		if hole > size {
			hole = size
		}
		for pos := data; pos < hole; {
			n := int64(len(c.buf))
			if hole-pos < n {
				n = hole - pos
			}
			r, err := in.ReadAt(c.buf[:n], pos)
			if r > 0 {
				if _, werr := out.WriteAt(c.buf[:r], pos); werr != nil {
					return werr
				}
				pos += int64(r)
			}
			if err == io.EOF {
				return nil // the file shrank while copied
			}
			if err != nil {
				return err
			}
		}
		off = hole
	}
	return nil
}

// setMeta gives dst the owner, extended attributes, mode and times of src
// (whose lstat is st), without following a symbolic link.
func setMeta(src, dst string, st *unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &fs.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	// after chown (which clears setuid/setgid) and after the ACL
	// attributes (the mode's group bits are the ACL's mask)
	if !isLink {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &fs.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimensat", Path: dst, Err: err}
	}
	return nil
}

func copyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		val, err := getXattr(src, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, name, val, 0); err != nil {
			return fmt.Errorf("%s: setting extended attribute %s: %w", dst, name, err)
		}
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: listing extended attributes: %w", path, err)
		}
		var names []string
		for _, b := range splitNul(buf[:n]) {
			names = append(names, string(b))
		}
		return names, nil
	}
}

func getXattr(path, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading extended attribute %s: %w", path, name, err)
		}
		return buf[:n], nil
	}
}

func splitNul(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}
