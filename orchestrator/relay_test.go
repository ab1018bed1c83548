package orchestrator

import (
	"context"
	"testing"
	"time"
)

const sumA, sumB = "aaaa", "bbbb"

// nextAsync calls next in a goroutine; the channel yields its plan.
func nextAsync(ctx context.Context, b *binaryRelay, sum string) <-chan plan {
	ch := make(chan plan, 1)
	go func() { ch <- b.next(ctx, sum) }()
	return ch
}

// blocked asserts that no plan arrives within a short while.
func blocked(t *testing.T, ch <-chan plan) {
	t.Helper()
	select {
	case p := <-ch:
		t.Fatalf("next returned %+v, want it to wait", p)
	case <-time.After(50 * time.Millisecond):
	}
}

func receive(t *testing.T, ch <-chan plan) plan {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("next did not return")
		return plan{}
	}
}

func TestRelayFirstCallersPushDirectly(t *testing.T) {
	b := newBinaryRelay()
	ctx := context.Background()
	for i := range directPushes {
		if p := b.next(ctx, sumA); !p.direct || p.source != nil {
			t.Fatalf("caller %d got %+v, want a direct push", i, p)
		}
	}
	// Another binary has its own direct slots.
	if p := b.next(ctx, sumB); !p.direct {
		t.Fatalf("first caller for another binary got %+v, want direct", p)
	}
	waiter := nextAsync(ctx, b, sumA)
	blocked(t, waiter)
	b.add(sumB, "10.0.0.9:7000") // a source of another binary does not help
	blocked(t, waiter)
	b.add(sumA, "10.0.0.1:7000")
	p := receive(t, waiter)
	if p.direct || p.source == nil || p.source.addr != "10.0.0.1:7000" {
		t.Fatalf("waiter got %+v, want the new source", p)
	}
	if p.source.active != 1 {
		t.Errorf("source active = %d, want 1", p.source.active)
	}
}

func TestRelayLeastLoadedSource(t *testing.T) {
	b := newBinaryRelay()
	ctx := context.Background()
	b.add(sumA, "a:1")
	b.add(sumA, "b:1")
	var got []string
	var plans []plan
	for range 4 {
		p := b.next(ctx, sumA)
		if p.source == nil {
			t.Fatalf("got %+v, want a source", p)
		}
		got = append(got, p.source.addr)
		plans = append(plans, p)
	}
	// Loads alternate: a, b, a, b.
	want := []string{"a:1", "b:1", "a:1", "b:1"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sources = %v, want %v", got, want)
		}
	}
	// Two fetches from b finish: b is now the least loaded.
	b.done(sumA, plans[1], true)
	b.done(sumA, plans[3], true)
	if p := b.next(ctx, sumA); p.source == nil || p.source.addr != "b:1" {
		t.Fatalf("got %+v, want b:1 (least loaded)", p)
	}
	// Sources are preferred over direct pushes even while slots are free.
	if b.direct[sumA] != 0 {
		t.Errorf("direct pushes = %d, want 0 while sources exist", b.direct[sumA])
	}
}

func TestRelayFailedFetchMarksSourceBad(t *testing.T) {
	b := newBinaryRelay()
	ctx := context.Background()
	b.add(sumA, "bad:1")
	p := b.next(ctx, sumA)
	if p.source == nil || p.source.addr != "bad:1" {
		t.Fatalf("got %+v", p)
	}
	b.done(sumA, p, false)
	if !p.source.bad || p.source.active != 0 {
		t.Fatalf("source after failed fetch = %+v, want bad and idle", *p.source)
	}
	// The only source is bad: the next callers push directly again.
	for range directPushes {
		if p := b.next(ctx, sumA); !p.direct {
			t.Fatalf("got %+v, want direct (the only source is bad)", p)
		}
	}
	b.add(sumA, "good:1")
	for range 3 {
		if p := b.next(ctx, sumA); p.source == nil || p.source.addr != "good:1" {
			t.Fatalf("got %+v, want good:1, never the bad source", p)
		}
	}
}

func TestRelayFailedDirectPushFreesSlot(t *testing.T) {
	b := newBinaryRelay()
	ctx := context.Background()
	var direct []plan
	for range directPushes {
		direct = append(direct, b.next(ctx, sumA))
	}
	waiter := nextAsync(ctx, b, sumA)
	blocked(t, waiter)
	// A successful direct push keeps its slot (it is about to serve)...
	b.done(sumA, direct[0], true)
	blocked(t, waiter)
	// ...a failed one (or one that will never serve) gives it up.
	b.done(sumA, direct[1], false)
	if p := receive(t, waiter); !p.direct {
		t.Fatalf("waiter got %+v, want the freed direct slot", p)
	}
}

func TestRelayContextEnds(t *testing.T) {
	b := newBinaryRelay()
	for range directPushes {
		b.next(context.Background(), sumA)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	p := b.next(ctx, sumA)
	if !p.direct || p.source != nil {
		t.Fatalf("got %+v after ctx ended, want direct (the caller then sees ctx.Err)", p)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("next took %s after its context ended", d)
	}
	if b.direct[sumA] != directPushes {
		t.Errorf("a cancelled wait took a direct slot: %d", b.direct[sumA])
	}

	// Many waiters, all released by one cancel.
	ctx2, cancel2 := context.WithCancel(context.Background())
	var chans []<-chan plan
	for range 5 {
		chans = append(chans, nextAsync(ctx2, b, sumA))
	}
	blocked(t, chans[0])
	cancel2()
	for _, ch := range chans {
		receive(t, ch)
	}
}

// A busy source is not swamped: past maxFetchesPerSource, hosts wait for a
// fetch to finish (or another source) rather than take a direct push.
func TestRelayCapsFetchesPerSource(t *testing.T) {
	b := newBinaryRelay()
	ctx := context.Background()
	b.add(sumA, "only:1")
	var plans []plan
	for range maxFetchesPerSource {
		p := b.next(ctx, sumA)
		if p.source == nil {
			t.Fatalf("got %+v, want the source", p)
		}
		plans = append(plans, p)
	}
	waiter := nextAsync(ctx, b, sumA)
	blocked(t, waiter)
	if b.direct[sumA] != 0 {
		t.Fatalf("a direct push was taken while a good source exists")
	}
	b.done(sumA, plans[0], true)
	if p := receive(t, waiter); p.source == nil || p.source.addr != "only:1" {
		t.Fatalf("waiter got %+v, want the source once a fetch finished", p)
	}
	// A second source takes the overflow at once.
	waiter = nextAsync(ctx, b, sumA)
	blocked(t, waiter)
	b.add(sumA, "second:1")
	if p := receive(t, waiter); p.source == nil || p.source.addr != "second:1" {
		t.Fatalf("waiter got %+v, want the new source", p)
	}
}
