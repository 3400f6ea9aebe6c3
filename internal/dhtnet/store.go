package dhtnet

// contactStore persists the routing table (store_sqlite.go; none on js).
type contactStore interface {
	Load() ([]Contact, error)
	Save([]Contact) error
	Close() error
}
