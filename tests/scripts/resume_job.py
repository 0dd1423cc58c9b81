"""An interrupted training, then its resumption, each in its own process, as on a cluster.

Usage: resume_job.py DATA OUT interrupt|resume
``interrupt`` trains 4 epochs and is interrupted (KeyboardInterrupt) at the end of epoch 2's
training, so epochs 0 and 1 are complete; ``resume`` resumes it from ``last.pt``.
"""

import sys

from ultralytics import YOLO

data, out, phase = sys.argv[1:4]
if phase == "interrupt":
    model = YOLO("yolov8n.yaml")

    def interrupt(trainer):
        if trainer.epoch == 2:
            raise KeyboardInterrupt

    model.add_callback("on_train_epoch_end", interrupt)
    model.train(data=data, epochs=4, imgsz=64, batch=8, device="cpu", workers=0, project=out, name="exp", plots=True)
else:
    YOLO(f"{out}/exp/weights/last.pt").train(resume=True)
print("TRAIN_DONE", flush=True)
