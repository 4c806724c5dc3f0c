"""Profile a converter-produced int8 .tflite layer by layer (``python -m bench profile``).

``model_reader`` reads the flatbuffer, ``activations`` runs the whole model in
the reference interpreter and keeps every tensor, ``layers`` turns each
operator into a single-operator case (``layer_spec.LayerSpec``) with the
model's own weights and the real activation it sees, ``params`` computes the
integer parameters the interpreter's Prepare would, ``memory`` which
activations are alive during each operator.
"""
