//! The policy tree: one node per `CachePolicy` object, as Prefect holds it after composition.

/// The `configure()` fields every Prefect `CachePolicy` carries. They never change a key, but
/// conflicting values make `+` raise, and `key_storage` says where records are looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configure {
    /// A path, or a description of a storage block.
    pub key_storage: Option<String>,
    /// `READ_COMMITTED` or `SERIALIZABLE`.
    pub isolation_level: Option<String>,
    /// A description of the lock manager object.
    pub lock_manager: Option<String>,
}

impl Configure {
    pub fn is_empty(&self) -> bool {
        self.key_storage.is_none() && self.isolation_level.is_none() && self.lock_manager.is_none()
    }
}

/// A node's [`Configure`], read and written as one (it dereferences to it), held in one
/// pointer: nearly every node leaves every field unset, and a record kept by the inspector
/// holds several nodes, so the fields are allocated only when one is set.
#[derive(Clone, Default)]
pub struct NodeConfigure(Option<Box<Configure>>);

/// The fields of a node that sets none.
static UNSET: Configure = Configure {
    key_storage: None,
    isolation_level: None,
    lock_manager: None,
};

impl std::ops::Deref for NodeConfigure {
    type Target = Configure;

    fn deref(&self) -> &Configure {
        self.0.as_deref().unwrap_or(&UNSET)
    }
}

impl std::ops::DerefMut for NodeConfigure {
    fn deref_mut(&mut self) -> &mut Configure {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<Configure> for NodeConfigure {
    fn from(configure: Configure) -> NodeConfigure {
        NodeConfigure((!configure.is_empty()).then(|| Box::new(configure)))
    }
}

/// Equal when the fields are, however they are held (a field set and unset again leaves them
/// allocated).
impl PartialEq for NodeConfigure {
    fn eq(&self, other: &NodeConfigure) -> bool {
        **self == **other
    }
}

impl Eq for NodeConfigure {}

impl std::fmt::Debug for NodeConfigure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        Configure::fmt(self, f)
    }
}

/// Which policy class a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// `Inputs(exclude=[...])`; the exclude list keeps Prefect's order (sorted only when a
    /// compound merged it).
    Inputs {
        exclude: Vec<String>,
    },
    TaskSource,
    FlowParameters,
    RunId,
    /// `CacheKeyFnPolicy`: the user's `cache_key_fn`, by qualified name when known.
    CacheKeyFn {
        function: Option<String>,
    },
    /// `_None`: `NONE` and `NO_CACHE`.
    NoCache,
    /// `CompoundCachePolicy`, children in Prefect's order.
    Compound {
        policies: Vec<PolicyNode>,
    },
    /// Any other class, by its qualified name.
    Other {
        class: String,
    },
}

/// What the recorder saw a node do in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// What this node's `compute_key` returned, or None.
    pub key: Option<String>,
    /// False when the recorder found that this key cannot be recomputed from the record.
    pub reproducible: bool,
    /// Why it cannot be recomputed, in one line.
    pub reason: Option<String>,
}

/// One `CachePolicy` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyNode {
    pub kind: PolicyKind,
    pub configure: NodeConfigure,
    /// Present for trees read from a run record; None for trees built from an expression.
    pub recorded: Option<Recorded>,
}

impl PolicyNode {
    pub fn new(kind: PolicyKind) -> PolicyNode {
        PolicyNode {
            kind,
            configure: NodeConfigure::default(),
            recorded: None,
        }
    }

    /// Prefect's class name: `Inputs`, `CompoundCachePolicy`, `_None`, or the qualified name of
    /// an unknown class.
    pub fn class_name(&self) -> &str {
        match &self.kind {
            PolicyKind::Inputs { .. } => "Inputs",
            PolicyKind::TaskSource => "TaskSource",
            PolicyKind::FlowParameters => "FlowParameters",
            PolicyKind::RunId => "RunId",
            PolicyKind::CacheKeyFn { .. } => "CacheKeyFnPolicy",
            PolicyKind::NoCache => "_None",
            PolicyKind::Compound { .. } => "CompoundCachePolicy",
            PolicyKind::Other { class } => class,
        }
    }

    /// The children of a compound; empty for every other node.
    pub fn children(&self) -> &[PolicyNode] {
        match &self.kind {
            PolicyKind::Compound { policies } => policies,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Configure, NodeConfigure, PolicyKind, PolicyNode};

    #[test]
    fn a_node_configure_reads_and_compares_as_its_fields() {
        let unset = NodeConfigure::default();
        assert!(unset.is_empty());
        assert_eq!(NodeConfigure::from(Configure::default()), unset);
        // Set through the pointer, then unset again: allocated, still equal to one never set.
        let mut set = unset.clone();
        set.key_storage = Some("/keys".to_string());
        assert_eq!(set.key_storage.as_deref(), Some("/keys"));
        assert_ne!(set, unset);
        let from = NodeConfigure::from(Configure {
            key_storage: Some("/keys".to_string()),
            ..Configure::default()
        });
        assert_eq!(set, from);
        set.key_storage = None;
        assert_eq!(set, unset);
        assert_eq!(format!("{set:?}"), format!("{:?}", Configure::default()));
    }

    #[test]
    fn a_policy_node_is_small() {
        // Kept several times over by every run the inspector holds (a compound and its
        // children): the configure fields, nearly always unset, take one pointer.
        if cfg!(target_pointer_width = "64") {
            assert!(std::mem::size_of::<PolicyNode>() <= 96);
        }
        let node = PolicyNode::new(PolicyKind::RunId);
        assert!(node.configure.is_empty());
    }
}
