"""Field datasets: crops (and frames) of real events saved for training second-stage classifiers.

capture.py is the pipeline sink (its own thread); layout.py is the directory's shape and its size
bound; manage.py is what `edge-agent dataset` does with it (list, stats, label, split)."""
