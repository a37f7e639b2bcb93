package storage

// Gather appends to batch what the queue q holds right now, without
// waiting, until batch holds max or q is empty or closed: the batch a group
// commit takes after its first request (both backends commit archive
// appends and offline stores this way).
func Gather[T any](batch []T, q <-chan T, max int) []T {
	for len(batch) < max {
		select {
		case req, ok := <-q:
			if !ok {
				return batch
			}
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}
