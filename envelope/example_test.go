package envelope_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"multimsg/envelope"
)

// A box opening an upload (the web handler's side) that a device sealed (the client's
// side, as multimsg send does it).
func Example() {
	dir, err := os.MkdirTemp("", "box")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	box, err := envelope.LoadOrCreate(dir) // at start-up; GET /key serves box.PublicPEM()
	if err != nil {
		log.Fatal(err)
	}

	// Device: seal one file for the box.
	pub, err := envelope.ParsePublicPEM(box.PublicPEM())
	if err != nil {
		log.Fatal(err)
	}
	s, err := envelope.NewSealer(pub)
	if err != nil {
		log.Fatal(err)
	}
	keyPart, photo := s.WrappedKey(), s.Seal([]byte("JPEG..."))

	// Box: the upload had a "key" part, so every file is encrypted.
	o, err := box.Unwrap(keyPart)
	if err != nil {
		log.Fatal(err) // a web handler answers 400 with err.Error()
	}
	plain, err := o.Open("photo", photo)
	fmt.Printf("%s %v\n", plain, err)

	photo[20] ^= 1 // damaged on the way
	_, err = o.Open("photo", photo)
	var fe *envelope.FileError
	fmt.Println(errors.Is(err, envelope.ErrAuth), errors.As(err, &fe) && fe.Name == "photo")
	fmt.Println(err)
	// Output:
	// JPEG... <nil>
	// true true
	// file "photo": authentication failed: tampered, truncated, or encrypted with another key
}
