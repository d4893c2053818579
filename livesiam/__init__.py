"""LiveSiam: recognise people in live camera feeds and recorded video with a Siamese encoder.

The pipeline, one module a stage: capture -> detect -> align -> embed -> match -> track ->
templates -> overlay / report. Importing the package is cheap: TensorFlow and MediaPipe load
only when a stage that needs them is built.
"""

__version__ = "0.1.0"
