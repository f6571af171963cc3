"""Face alignment: finding the face (dlib's 5-point model or FaceMesh) and warping it to
the CUFS frame, and back."""
