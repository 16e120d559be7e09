// Command tbcni is the test bed's CNI plugin: it gives a pod a network
// interface that leads nowhere. containerd's CRI plugin insists on an "eth0"
// with an address in the CNI result, and this VM's kernel has no dummy
// interfaces, so tbcni creates a veth pair with BOTH ends inside the pod's
// network namespace: eth0 (with an address from the IPAM plugin, e.g.
// host-local on a TEST-NET range) and its peer. Nothing is attached to the
// host: no host-side interface, no routes, no forwarding, no NAT.
//
// Network configuration:
//
//	{"cniVersion": "1.0.0", "name": "tb-isolated",
//	 "plugins": [{"type": "tbcni", "ipam": {"type": "host-local", ...}}]}
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// peerName is the other end of the pair, also inside the pod.
const peerName = "tbpeer0"

func init() {
	// Namespace switches apply to the calling OS thread.
	runtime.LockOSThread()
}

func parse(args *skel.CmdArgs) (*types.NetConf, error) {
	conf := &types.NetConf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return nil, fmt.Errorf("tbcni: parsing network configuration: %v", err)
	}
	if conf.IPAM.Type == "" {
		return nil, errors.New("tbcni: an \"ipam\" section with a \"type\" is required")
	}
	return conf, nil
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, err := parse(args)
	if err != nil {
		return err
	}
	r, err := ipam.ExecAdd(conf.IPAM.Type, args.StdinData)
	if err != nil {
		return err
	}
	res, err := current.NewResultFromResult(r)
	if err != nil {
		_ = ipam.ExecDel(conf.IPAM.Type, args.StdinData)
		return err
	}
	if len(res.IPs) == 0 {
		_ = ipam.ExecDel(conf.IPAM.Type, args.StdinData)
		return errors.New("tbcni: IPAM returned no address")
	}
	var mac string
	err = ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: args.IfName}, PeerName: peerName}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("tbcni: creating veth pair %s/%s: %v", args.IfName, peerName, err)
		}
		link, err := netlink.LinkByName(args.IfName)
		if err != nil {
			return err
		}
		peer, err := netlink.LinkByName(peerName)
		if err != nil {
			return err
		}
		for _, ipc := range res.IPs {
			if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &ipc.Address}); err != nil {
				return fmt.Errorf("tbcni: adding %s to %s: %v", ipc.Address.String(), args.IfName, err)
			}
		}
		if err := netlink.LinkSetUp(peer); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return err
		}
		mac = link.Attrs().HardwareAddr.String()
		return nil
	})
	if err != nil {
		_ = ipam.ExecDel(conf.IPAM.Type, args.StdinData)
		return err
	}
	res.Interfaces = []*current.Interface{{Name: args.IfName, Mac: mac, Sandbox: args.Netns}}
	for _, ipc := range res.IPs {
		ipc.Interface = current.Int(0)
		ipc.Gateway = nil
	}
	res.Routes = nil
	return types.PrintResult(res, conf.CNIVersion)
}

func cmdDel(args *skel.CmdArgs) error {
	conf, err := parse(args)
	if err != nil {
		return err
	}
	if err := ipam.ExecDel(conf.IPAM.Type, args.StdinData); err != nil {
		return err
	}
	if args.Netns == "" {
		return nil
	}
	// The namespace may already be gone; then so is the pair.
	_ = ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		if link, err := netlink.LinkByName(args.IfName); err == nil {
			return netlink.LinkDel(link)
		}
		return nil
	})
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	if _, err := parse(args); err != nil {
		return err
	}
	return ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		_, err := netlink.LinkByName(args.IfName)
		return err
	})
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck}, version.All, "tbcni: isolated veth pair inside the pod")
}
