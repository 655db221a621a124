// Package store keeps every job durably in one bbolt file: the job's metadata, its files, the
// per-file delivery state and attempt history, the owner device, and the device registry. It is
// the only place that decides a job's state (SPEC §1); the dispatcher reports outcomes to it.
//
// # Durability and group commit
//
// A write returns only after its bbolt transaction is committed and fsync'd, so an id handed
// to a client survives a power cut. Writes from concurrent requests are group-committed: one
// goroutine (the committer) takes every write waiting when it is free and commits them in one
// transaction, so N concurrent uploads cost one fsync, not N. Unlike bbolt's Batch there is no
// fixed delay: a lone write is committed at once, and batches grow by themselves while a
// commit is in flight. Each write validates before it modifies anything, so a write that fails
// (an unknown id, the quota) changes nothing and does not abort the others in its batch.
//
// # Layout
//
//	jobs      id → job metadata (JSON)
//	data      id ‖ file index (2 bytes, big endian) → file bytes
//	active    id → nil, for every queued job (the dispatcher's work list after a restart)
//	deadlines deadline (8 bytes, unix ns, big endian) ‖ id → nil: the next retention step of
//	          each job, so the sweeper reads only what is due
//	devices   MAC → device record (JSON)
//	meta      counters (jobs per state, stored bytes)
//
// Lookups by id are B+tree searches: O(log n), whatever the ids look like (the original
// author's fear that random string ids would make lookups O(n) does not apply to a B+tree;
// BenchmarkConsult measures it at 1k and 1M jobs).
//
// # Write locality
//
// An id is 7 characters of creation time (milliseconds, in an alphabet that sorts like the
// time) followed by 128 random bits (what makes it unguessable). The time prefix is for the
// disk, not for anyone reading ids: with wholly random ids every new job lands on its own
// leaf page of "jobs" and "data" and dirties that leaf's branch page too, so a commit of 32
// jobs rewrote ~70 scattered pages; with ids in creation order a commit appends to the end of
// each bucket and writes about one page per job, in place of two or more. Buckets filled at
// their end (jobs, data, active, deadlines) are split at 90% rather than bbolt's 50%. Ids of
// the older form (22 random characters) stay valid.
//
// Values read from bbolt are valid only for the life of their transaction: everything this
// package returns is decoded or copied before the transaction ends.
package store
