package swarm

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// A SHA-256 chain lets a peer check the whole-file SHA-256 one segment at a
// time, in any order, as segments complete, instead of reading the whole
// file again once the last piece lands. SHA-256 hashes a file as a chain
// of 64-byte blocks; its chaining value after the first k·Every bytes is 32
// bytes. The control node, which hashes the file anyway, records that value
// at every segment boundary. A peer resumes SHA-256 from the value at a
// segment's start, feeds it the segment's bytes, and compares the result
// with the value recorded at its end (for the last segment, with the
// digest itself). Every segment passing is exactly the whole-file check:
// it is the same computation, cut at the recorded values.
//
// Why: at the end of a deploy every host finished within a second or two
// and then read and hashed the whole file at once. Fifty 32 MiB hashes on
// two cores held each host's completion back by 0.3–1.1 s
// (docs/benchmarks.md, ninth session); a 10 GiB file costs 7 s of SHA-256
// per host even unloaded.

const (
	chainStateSize = sha256.Size
	// chainSegmentPieces is the segment length in pieces, before the
	// segment count is capped at maxChainSegments: what a host still has
	// to hash when its last piece lands is about one segment.
	chainSegmentPieces = 16
	maxChainSegments   = 256

	sha256Magic     = "sha\x03" // crypto/sha256's marshaled-state prefix
	sha256BlockSize = 64
	sha256StateLen  = len(sha256Magic) + chainStateSize + sha256BlockSize + 8
)

// chainSegmentLen returns the SHA-256 chain's segment length for a file of size
// bytes in pieces of pieceLen: a whole number of pieces, so a segment is
// complete exactly when its pieces are.
func chainSegmentLen(size, pieceLen int64) int64 {
	every := pieceLen * chainSegmentPieces
	for (size+every-1)/every > maxChainSegments {
		every *= 2
	}
	return every
}

// chainLen is how many bytes of states a chain of a size-byte file has:
// one per boundary inside the file.
func chainLen(size, every int64) int {
	return int((size+every-1)/every-1) * chainStateSize
}

// midstate returns h's chaining value. h must have consumed a whole number
// of 64-byte blocks.
func midstate(h hash.Hash) ([chainStateSize]byte, error) {
	var out [chainStateSize]byte
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return out, errors.New("sha256: state cannot be saved")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return out, err
	}
	if len(b) != sha256StateLen || string(b[:len(sha256Magic)]) != sha256Magic {
		return out, fmt.Errorf("sha256: unexpected saved state (%d bytes)", len(b))
	}
	if binary.BigEndian.Uint64(b[len(b)-8:])%sha256BlockSize != 0 {
		return out, errors.New("sha256: state saved between blocks")
	}
	copy(out[:], b[len(sha256Magic):])
	return out, nil
}

// resumeSHA256 returns a SHA-256 that continues from the chaining value
// state, recorded after offset bytes (a multiple of 64).
func resumeSHA256(state []byte, offset int64) (hash.Hash, error) {
	h := sha256.New()
	if offset == 0 {
		return h, nil
	}
	if len(state) != chainStateSize || offset%sha256BlockSize != 0 {
		return nil, fmt.Errorf("sha256: cannot resume %d bytes of state at offset %d", len(state), offset)
	}
	b := make([]byte, 0, sha256StateLen)
	b = append(b, sha256Magic...)
	b = append(b, state...)
	b = append(b, make([]byte, sha256BlockSize)...)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return h, nil
}

// SHA256Chain is a file's SHA-256 chaining values at every Every bytes.
// The zero value is no chain: the peer then hashes the whole file once it
// is complete.
type SHA256Chain struct {
	Every  int64  `json:"every"`
	States []byte `json:"states"` // 32 bytes per boundary inside the file, in order
}

// fits reports whether c is a chain for a file of size bytes in pieces of
// pieceLen.
func (c SHA256Chain) fits(size, pieceLen int64) error {
	switch {
	case c.Every <= 0 || pieceLen <= 0 || c.Every%pieceLen != 0:
		return fmt.Errorf("sha256 chain segment %d is not a whole number of %d-byte pieces", c.Every, pieceLen)
	case len(c.States) != chainLen(size, c.Every):
		return fmt.Errorf("sha256 chain has %d bytes of states, a %d-byte file in %d-byte segments needs %d",
			len(c.States), size, c.Every, chainLen(size, c.Every))
	}
	return nil
}
