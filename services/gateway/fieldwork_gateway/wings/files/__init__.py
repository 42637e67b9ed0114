"""Files: uploads to the object store, downloads, and the files attached to interventions."""
