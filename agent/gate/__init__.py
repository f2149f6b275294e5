"""What runs on the detector thread before the model: the motion gate and the region planner."""
