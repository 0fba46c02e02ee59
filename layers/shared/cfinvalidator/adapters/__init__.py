"""boto3 implementations of the ports (``cfinvalidator.ports``): the handler wires them into the
service, which never imports them."""
