package torrent

// Patched in by murderctl (PATCHED.md): not part of upstream anacrolix/torrent.

import (
	"bytes"
	"sync"
)

// A connection's write buffers grow to hold a piece message whenever it uploads, and upstream
// kept them for the life of the connection: two per connection, so a peer with dozens of
// connections held (and the kernel first faulted in and zeroed) megabytes of buffers, most of
// them idle. Large backing arrays are instead shared through a pool: a buffer takes one when a
// piece message will not fit, and gives it back once written out.

// bigWriteBufMin is the capacity from which a drained buffer's array goes back to the pool.
const bigWriteBufMin = writeBufferHighWaterLen

var bigWriteBufs sync.Pool // *[]byte, len 0

// reserve makes room for n more bytes, from the pool when the buffer must grow past
// bigWriteBufMin.
func (b *peerConnMsgWriterBuffer) reserve(n int) {
	if b.Available() >= n {
		return
	}
	need := b.Len() + n
	if need < bigWriteBufMin {
		b.Grow(n)
		return
	}
	var arr []byte
	if p, ok := bigWriteBufs.Get().(*[]byte); ok && cap(*p) >= need {
		arr = (*p)[:0]
	} else {
		// A pooled array too small for this message is dropped: chunk sizes are fixed per
		// torrent, so small ones only linger after a change.
		arr = make([]byte, 0, need+need/8)
	}
	arr = append(arr, b.Bytes()...)
	old := b.Buffer
	b.Buffer = *bytes.NewBuffer(arr)
	old.Reset()
	putBigWriteBuf(&old)
}

// release returns a drained buffer's large array to the pool.
func (b *peerConnMsgWriterBuffer) release() {
	if b.Len() != 0 {
		return
	}
	putBigWriteBuf(&b.Buffer)
	b.Buffer = bytes.Buffer{}
}

func putBigWriteBuf(b *bytes.Buffer) {
	if b.Cap() < bigWriteBufMin {
		return
	}
	b.Reset()
	arr := b.Bytes()[:0]
	bigWriteBufs.Put(&arr)
}
