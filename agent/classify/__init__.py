"""The second stage: classifiers that run on what the pipeline found, as sinks on their own threads.

Object classifiers (objects.py) classify an event's best crop and give the event a sub_label
(sub_labels.py, read back by the analytics thread); state classifiers (states.py) classify a fixed
region of a camera and report `<camera>/states/<name>`. The models come from agent.recognition."""
