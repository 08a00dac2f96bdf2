//! The control plane: IPVS's generic-netlink family, answered by rvs.
//!
//! With `ipvs_compat=1` the family is called `IPVS` (version 1), exactly as ip_vs registers it,
//! so stock ipvsadm and keepalived find rvs; with `ipvs_compat=0` it is called `RVS` and rvs can
//! sit beside ip_vs. Every command requires CAP_NET_ADMIN in the namespace's user namespace and
//! acts on the requester's network namespace only, as in ip_vs. Commands not listed in [`OPS`]
//! are answered `EOPNOTSUPP` by generic netlink itself.

use kernel::{error::code::ENODEV, error::Result, ThisModule};

use crate::{
    kapi::genl::{self, DoIt, Family, Policy, Request, SmallOp, Spec},
    netns::Netns,
    rvs_core::abi,
};

/// `IPVS_CMD_GET_INFO`: the IPVS version rvs implements and the connection-table size.
struct GetInfo;

impl DoIt for GetInfo {
    fn doit(req: &Request<'_>) -> Result {
        let netns = Netns::of(req.net()).ok_or(ENODEV)?;
        let mut reply = req.reply(abi::cmd::SET_INFO)?;
        reply.put_u32(abi::info_attr::VERSION, abi::IP_VS_VERSION_CODE)?;
        reply.put_u32(abi::info_attr::CONN_TAB_SIZE, netns.conn_tab_size())?;
        reply.send()
    }
}

/// The commands rvs answers.
static OPS: [SmallOp; 1] = [SmallOp::doit::<GetInfo>(abi::cmd::GET_INFO)];

static FAMILY: Family = Family::new();

/// The family name rvs registers under the given `ipvs_compat` setting.
pub(crate) fn family_name(ipvs_compat: bool) -> &'static str {
    if ipvs_compat {
        abi::IPVS_GENL_NAME
    } else {
        abi::RVS_GENL_NAME
    }
}

/// Registers the family; dropping the result unregisters it.
pub(crate) fn register(
    module: &'static ThisModule,
    ipvs_compat: bool,
) -> Result<genl::Registration> {
    let spec = Spec {
        name: family_name(ipvs_compat),
        version: abi::IPVS_GENL_VERSION,
        policy: Policy::ipvs_cmd(),
        ops: &OPS,
        resv_start_op: abi::cmd::FLUSH + 1,
    };
    FAMILY.register(&spec, module)
}
