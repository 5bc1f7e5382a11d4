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
    pub configure: Configure,
    /// Present for trees read from a run record; None for trees built from an expression.
    pub recorded: Option<Recorded>,
}

impl PolicyNode {
    pub fn new(kind: PolicyKind) -> PolicyNode {
        PolicyNode {
            kind,
            configure: Configure::default(),
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
