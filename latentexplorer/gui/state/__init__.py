"""What the views share: the Session and the state objects it is made of, one vocabulary each."""
