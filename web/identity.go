package web

import "multimsg/identity"

// The device identity is shared with the other doors of the box (mailin); these names keep
// web's callers and tests unchanged.
type (
	// Identity is identity.Identity.
	Identity = identity.Identity
	// Neighbors is identity.Neighbors.
	Neighbors = identity.Neighbors
	// Syncer is identity.Syncer.
	Syncer = identity.Syncer
)

// Local is the device name of requests from the box itself.
const Local = identity.Local

var addrOf = identity.AddrOf
