__author__ = "Anubhav Jain <ajain@lbl.gov>"
