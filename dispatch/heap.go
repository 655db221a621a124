package dispatch

import (
	"container/heap"
	"time"
)

type item struct {
	id    string
	at    time.Time
	index int
}

// dueHeap orders jobs by their next due time; pos finds a job's entry for updates.
type dueHeap []*item

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return it
}

// update moves it earlier if at is before its current due time.
func (h *dueHeap) update(it *item, at time.Time) {
	if at.Before(it.at) {
		it.at = at
		heap.Fix(h, it.index)
	}
}
