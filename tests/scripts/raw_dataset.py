"""ClearML dataset versions made with ClearML's own API from folders as they are (no checks), for the
tests of datasets the shim must refuse. Usage: raw_dataset.py PROJECT NAME=FOLDER [NAME=FOLDER ...];
prints ``DATASET_ID <name>=<id>`` for each."""

import sys

from clearml import Dataset

project = sys.argv[1]
for pair in sys.argv[2:]:
    name, folder = pair.split("=", 1)
    dataset = Dataset.create(dataset_project=project, dataset_name=name)
    dataset.add_files(folder)
    dataset.upload()
    dataset.finalize()
    print(f"DATASET_ID {name}={dataset.id}", flush=True)
