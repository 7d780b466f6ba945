package crypto

// Domain-separation labels. Each signature, MAC, hash and key derivation
// uses exactly one of these, so that a value made in one context is never
// valid in another. They are part of the wire protocol: changing one is a
// protocol version change (docs/protocol.md lists them).
const (
	labelSafetyNumber     = "parley/v1 safety number"
	labelKeyID            = "parley/v1 key id"
	labelChannelID        = "parley/v1 channel id"
	labelBinding          = "parley/v1 pseudonym binding"
	labelKEMKey           = "parley/v1 pseudonym kem key"
	labelRosterSig        = "parley/v1 roster signature"
	labelRosterHash       = "parley/v1 roster hash"
	labelRosterApproval   = "parley/v5 roster approval"
	labelAgreementInitial = "parley/v5 agreement initial"
	labelAgreementVouch   = "parley/v5 agreement founder vouch"
	labelAccessListSig    = "parley/v1 access list signature"
	labelAccessListPoP    = "parley/v2 access list admin proof"
	labelAdminKey         = "parley/v2 relay admin key"
	labelEpochBundleSig   = "parley/v2 epoch bundle signature"
	labelEpochBundleAdmin = "parley/v2 epoch bundle admin signature"
	labelEpochWrap        = "parley/v1 epoch wrap"
	labelRosterSeal       = "parley/v1 roster seal"
	labelChain            = "parley/v1 sender chain"
	labelMessageKey       = "parley/v1 message key"
	labelChainNext        = "parley/v1 chain next"
	labelMessageAD        = "parley/v2 message"
	labelSenderData       = "parley/v3 sender data"
	labelPairKey          = "parley/v1 pairwise mac key"
	labelMessageTag       = "parley/v4 message tag"
	labelContentHash      = "parley/v4 message content"
	labelRelayAuth        = "parley/v1 relay auth"
	labelBurn             = "parley/v2 burn notice"
	labelInviteToken      = "parley/v1 invite token"
	labelInviteTokenID    = "parley/v1 invite token id"
	labelJoinKey          = "parley/v1 join request key"
	labelJoinAD           = "parley/v1 join request"
	labelInviteCheck      = "parley/v1 invite checksum"
)
